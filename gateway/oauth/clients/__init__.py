"""Registered OAuth clients: the model and its rules, where clients are kept, how a client may
describe itself (dynamic registration, Client ID Metadata Documents) and its redirect URIs."""
