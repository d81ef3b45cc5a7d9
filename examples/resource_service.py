"""A resource service that accepts requests signed by AWS SDKs with credentials from Tessera.

Run it next to Tessera (the client is one of the tenant's OAuth clients)::

    TESSERA_ENDPOINT=http://127.0.0.1:8000/t/default TESSERA_CLIENT_ID=reports \
    TESSERA_CLIENT_SECRET=... uvicorn examples.resource_service:app --port 9000

Then sign a request with botocore (service name ``reports``) and any Tessera credentials::

    import botocore.session, requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()  # e.g. from AssumeRole
    request = AWSRequest("GET", "http://127.0.0.1:9000/reports/public-2025")
    SigV4Auth(credentials, "reports", "us-east-1").add_auth(request)
    print(requests.get(request.url, headers=dict(request.headers)).json())

Each request is verified by Tessera (``tessera.verifier``): the signature and credentials, then
the caller's policies for ``reports:GetReport`` / ``reports:PutReport`` on
``arn:aws:reports:::report/<name>``. Tessera's answer names the principal and its session tags.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tessera.verifier import VerifierError, verify_request_async

SERVICE = "reports"


def create_app(endpoint: str, client_id: str, client_secret: str) -> Starlette:
    async def report(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        action = "reports:GetReport" if request.method == "GET" else "reports:PutReport"
        query = request.scope.get("query_string", b"").decode("latin-1")
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        url = f"{request.url.scheme}://{request.headers.get('host', '')}{raw_path}" + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            verification = await verify_request_async(
                request.method,
                url,
                headers,
                await request.body(),
                action=action,
                resource=f"arn:aws:reports:::report/{name}",
                endpoint=endpoint,
                client_id=client_id,
                client_secret=client_secret,
                service=SERVICE,
                source_ip=request.client.host if request.client else None,
            )
        except VerifierError:
            return JSONResponse({"error": "ServiceUnavailable"}, 503)
        if not verification.authenticated:
            return JSONResponse({"error": verification.error_code, "message": verification.error_message}, 403)
        if not verification.allowed:
            return JSONResponse({"error": "AccessDenied", "encoded_message": verification.encoded_message}, 403)
        assert verification.principal is not None
        principal = verification.principal
        return JSONResponse({"report": name, "principal": principal.arn, "session_tags": dict(principal.session_tags)})

    return Starlette(routes=[Route("/reports/{name}", report, methods=["GET", "PUT"])])


app = create_app(
    os.environ.get("TESSERA_ENDPOINT", "http://127.0.0.1:8000/t/default"),
    os.environ.get("TESSERA_CLIENT_ID", "reports"),
    os.environ.get("TESSERA_CLIENT_SECRET", ""),
)
