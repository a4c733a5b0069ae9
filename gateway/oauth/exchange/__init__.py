"""Token exchange (RFC 8693), in one place: ``rules`` decides what an exchanged token may carry
(used by the /token grant and, without HTTP, by the upstream hop), ``grant`` is the /token grant."""
