"""Audit exporters: each one ships the durable trail, in order, to a place a security team reads
(docs/audit.md, "Export"), and records how far it got, so retention deletes only what every one
of them delivered (AU-5, AU-6).

    core.py       the loop every exporter runs: read after its position, deliver, then move it
    records.py    what an exported event says: the event, its place in the chain, its OCSF class
    config.py     the ``[audit_export.<name>]`` tables, checked at load time
    jsonlines.py  JSON lines to a file (size-based rotation, owner-only) or to standard output
    rfc5424.py    the syslog message (RFC 5424) and its octet-counting frame (RFC 6587)
    syslog.py     syslog over TCP (RFC 6587) or TLS (RFC 5425), verified by default
    otlp.py       OpenTelemetry logs over OTLP/HTTP (protobuf), with Retry-After and partial success
    build.py      an exporter from its configuration
"""
