"""SCIM 2.0 intake at ``/scim/v2`` for HR and other identity systems (RFC 7643/7644, docs/decisions/0700).

Resources and error bodies are scim2-models objects; routes only parse, call :mod:`bridge.services.scim_intake`
and render. Every error under ``/scim/v2`` — a refusal, a missing route, a malformed body — leaves as a SCIM
error body (``urn:ietf:params:scim:api:messages:2.0:Error``), never as the API's problem+json.
"""

from bridge.interfaces.scim.routes import mount_scim

__all__ = ["mount_scim"]
