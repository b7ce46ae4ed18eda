"""How tools commonly print a secret, each of which must be masked.

Importable (the tests compare against :func:`encodings`) and runnable: as a job's
command it prints each form of ``$TOKEN`` on its own line, then one output carrying
the JSON form, so that the secret is never written in the flow itself.
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import quote, quote_plus


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "json": json.dumps({"token": secret}),
        "json-ascii": json.dumps({"token": secret}, ensure_ascii=True),
        "url": "https://x.example/?t=" + quote(secret, safe=""),
        "form": "t=" + quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        # inside a longer base64 text, at each of the three alignments
        "basic-auth-1": base64.b64encode(b"u:" + raw + b"!").decode(),
        "basic-auth-2": base64.b64encode(b"us:" + raw).decode(),
        "basic-auth-3": base64.b64encode(b"use:" + raw + b"xy").decode(),
    }


if __name__ == "__main__":
    forms = encodings(os.environ["TOKEN"])
    for text in forms.values():
        print(text)
    print("[COUT] BLOB = " + forms["json"])
