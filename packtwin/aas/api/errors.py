"""Errors as the API's Result body (IDTA-01002 Part 2, Result/Message) with the right status code."""

from __future__ import annotations

import datetime as dt
import uuid

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the client caused (4xx) or a documented server condition; rendered as a Result body."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def result_body(status: int, text: str, message_type: str = "Error") -> dict:
    return {
        "messages": [{
            "code": str(status),
            "correlationId": uuid.uuid4().hex[:16],
            "messageType": message_type,
            "text": text,
            "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }]
    }


def error_response(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    message_type = "Exception" if status >= 500 else "Error"
    return JSONResponse(result_body(status, text, message_type), status_code=status, headers=headers)
