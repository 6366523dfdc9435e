"""A minimal Amazon SQS queue speaking the SQS JSON protocol, for Amazon notifications.

Amazon delivers SP-API notifications (ORDER_CHANGE, ...) into the seller's SQS queue; the
hub long-polls it. Each simulated Amazon store has one queue, served at
``<sim>/amazon/<store>/sqs`` so that ``boto3.client("sqs", endpoint_url=...)`` works
unchanged. Supported actions (header ``X-Amz-Target: AmazonSQS.<Action>``, body
``application/x-amz-json-1.0``): GetQueueUrl, GetQueueAttributes, SendMessage,
ReceiveMessage (long polling, visibility timeout, receive count), DeleteMessage,
DeleteMessageBatch, ChangeMessageVisibility, PurgeQueue. Request signatures are not
checked: the simulator is a loopback test double, not an access-control boundary.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from simulator.http import Request, Response

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
DEFAULT_VISIBILITY_TIMEOUT = 30.0
MAX_WAIT_SECONDS = 20.0


@dataclass
class Message:
    message_id: str
    body: str
    md5_of_body: str
    sent_timestamp_ms: int
    visible_at: float
    receive_count: int = 0
    receipt_handle: str = ""


class SqsQueue:
    """A thread-safe in-memory queue with SQS's visibility semantics."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._messages: list[Message] = []
        self._condition = threading.Condition()
        self._closed = False

    def send(self, body: str) -> Message:
        message = Message(
            message_id=str(uuid.uuid4()),
            body=body,
            md5_of_body=hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            sent_timestamp_ms=int(time.time() * 1000),
            visible_at=time.monotonic(),
        )
        with self._condition:
            self._messages.append(message)
            self._condition.notify_all()
        return message

    def receive(
        self,
        *,
        max_messages: int = 1,
        wait_seconds: float = 0.0,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> list[Message]:
        deadline = time.monotonic() + min(wait_seconds, MAX_WAIT_SECONDS)
        with self._condition:
            while True:
                current = time.monotonic()
                ready = [m for m in self._messages if m.visible_at <= current][:max_messages]
                if ready or self._closed or current >= deadline:
                    break
                hidden = [m.visible_at for m in self._messages if m.visible_at > current]
                wake_at = min([deadline, *hidden])
                self._condition.wait(timeout=max(0.0, wake_at - current))
            for message in ready:
                message.receive_count += 1
                message.receipt_handle = f"{message.message_id}#{uuid.uuid4().hex}"
                message.visible_at = current + visibility_timeout
            return [Message(**vars(message)) for message in ready]

    def delete(self, receipt_handle: str) -> bool:
        with self._condition:
            for index, message in enumerate(self._messages):
                if message.receipt_handle and message.receipt_handle == receipt_handle:
                    del self._messages[index]
                    return True
        return False

    def change_visibility(self, receipt_handle: str, timeout: float) -> bool:
        with self._condition:
            for message in self._messages:
                if message.receipt_handle and message.receipt_handle == receipt_handle:
                    message.visible_at = time.monotonic() + timeout
                    self._condition.notify_all()
                    return True
        return False

    def purge(self) -> None:
        with self._condition:
            self._messages.clear()

    def counts(self) -> tuple[int, int]:
        """(visible, in flight)."""
        current = time.monotonic()
        with self._condition:
            visible = sum(1 for m in self._messages if m.visible_at <= current)
            return visible, len(self._messages) - visible

    def close(self) -> None:
        """Release long polls (the store was replaced or the simulator is stopping)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def _answer(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _error(code: str, query_code: str, message: str) -> Response:
    response = _answer({"__type": f"com.amazonaws.sqs#{code}", "message": message}, 400)
    response.headers["x-amzn-query-error"] = f"{query_code};Sender"
    return response


def handle_sqs(queue: SqsQueue, request: Request, queue_url: str) -> Response:
    """Answer one SQS JSON-protocol request against ``queue``."""
    action = request.header("x-amz-target").removeprefix("AmazonSQS.")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error("InvalidParameterValue", "InvalidParameterValue", "body is not JSON")
    if action == "GetQueueUrl":
        return _answer({"QueueUrl": queue_url})
    if action == "SendMessage":
        message = queue.send(str(body.get("MessageBody", "")))
        return _answer({"MessageId": message.message_id, "MD5OfMessageBody": message.md5_of_body})
    if action == "ReceiveMessage":
        return _receive(queue, body)
    if action == "DeleteMessage":
        if not queue.delete(str(body.get("ReceiptHandle", ""))):
            return _error(
                "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The receipt handle is invalid"
            )
        return _answer({})
    if action == "DeleteMessageBatch":
        successful, failed = [], []
        for entry in body.get("Entries") or ():
            if queue.delete(str(entry.get("ReceiptHandle", ""))):
                successful.append({"Id": entry.get("Id")})
            else:
                failed.append(
                    {
                        "Id": entry.get("Id"),
                        "SenderFault": True,
                        "Code": "ReceiptHandleIsInvalid",
                        "Message": "The receipt handle is invalid",
                    }
                )
        return _answer({"Successful": successful, "Failed": failed})
    if action == "ChangeMessageVisibility":
        timeout = float(body.get("VisibilityTimeout") or 0)
        if not queue.change_visibility(str(body.get("ReceiptHandle", "")), timeout):
            return _error(
                "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The receipt handle is invalid"
            )
        return _answer({})
    if action == "GetQueueAttributes":
        visible, in_flight = queue.counts()
        return _answer(
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": str(visible),
                    "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                    "VisibilityTimeout": str(int(DEFAULT_VISIBILITY_TIMEOUT)),
                    "QueueArn": f"arn:aws:sqs:us-east-1:000000000000:{queue.name}",
                }
            }
        )
    if action == "PurgeQueue":
        queue.purge()
        return _answer({})
    return _error(
        "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", f"{action!r}"
    )


def _receive(queue: SqsQueue, body: dict[str, Any]) -> Response:
    max_messages = int(body.get("MaxNumberOfMessages") or 1)
    if not 1 <= max_messages <= 10:
        return _error(
            "InvalidParameterValue",
            "InvalidParameterValue",
            "MaxNumberOfMessages must be between 1 and 10",
        )
    messages = queue.receive(
        max_messages=max_messages,
        wait_seconds=float(body.get("WaitTimeSeconds") or 0),
        visibility_timeout=float(body.get("VisibilityTimeout") or DEFAULT_VISIBILITY_TIMEOUT),
    )
    if not messages:
        return _answer({})
    return _answer(
        {
            "Messages": [
                {
                    "MessageId": message.message_id,
                    "ReceiptHandle": message.receipt_handle,
                    "MD5OfBody": message.md5_of_body,
                    "Body": message.body,
                    "Attributes": {
                        "SentTimestamp": str(message.sent_timestamp_ms),
                        "ApproximateReceiveCount": str(message.receive_count),
                        "ApproximateFirstReceiveTimestamp": str(message.sent_timestamp_ms),
                    },
                }
                for message in messages
            ]
        }
    )
