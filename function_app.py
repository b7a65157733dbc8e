"""Azure Functions entry points (Python v2 model): bindings and HTTP translation only; logic is in `tagging`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import azure.functions as func

from tagging.bootstrap import ports
from tagging.config import CONNECTION, JOBS_QUEUE, POISON_QUEUE, RECORDS_TABLE
from tagging.errors import MalformedJobError
from tagging.model import ImageRecord
from tagging.ports import Ports
from tagging.services import duplicates, library, upload, worker
from tagging.web import (
    body_of,
    caller_id,
    file_response,
    filename_from,
    handle,
    item_view,
    json_response,
    link_response,
    link_view,
    match_view,
    page_response,
    query_values,
    record_view,
    route_tag,
)

logger = logging.getLogger(__name__)

# Function keys are required in Azure; Core Tools and the local runner do not check them.
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="app/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def web_page(req: func.HttpRequest) -> func.HttpResponse:
    """The browser page (static files, no data: anonymous; the API calls it makes carry the key and identity)."""
    return handle(req, lambda: page_response(req, ports().images.link_origin()))


@app.route(route="images", methods=["POST"])
@app.queue_output(arg_name="job", queue_name=JOBS_QUEUE, connection=CONNECTION)
def upload_image(req: func.HttpRequest, job: func.Out[bytes]) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        accepted = upload.accept_upload(
            p,
            user_id=user,
            data=body_of(req),
            declared_type=req.headers.get("content-type"),
            declared_length=req.headers.get("content-length"),
            filename=filename_from(req),
        )
        if accepted.job is not None:
            job.set(accepted.job.message())
        record = accepted.record
        return json_response(
            {"id": record.image_id, "status": record.status},
            status=202 if accepted.created else 200,
            headers={"Location": f"/api/images/{record.image_id}"},
        )

    return _api(req, action)


@app.route(route="images/{id}", methods=["GET"])
def get_image(req: func.HttpRequest) -> func.HttpResponse:
    return _api(req, lambda p, user: json_response(record_view(library.get_image(p, user_id=user, image_id=_id(req)))))


@app.route(route="images", methods=["GET"])
def list_images(req: func.HttpRequest) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        page = library.list_images(
            p,
            user_id=user,
            tags=query_values(req, "tag"),
            limit=req.params.get("limit"),
            continuation=req.params.get("continuation"),
        )
        return json_response({"items": [item_view(item) for item in page.items], "continuation": page.continuation})

    return _api(req, action)


@app.route(route="images/{id}/similar", methods=["GET"])
def similar_images(req: func.HttpRequest) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        record, distance, matches = duplicates.similar_images(
            p,
            user_id=user,
            image_id=_id(req),
            max_distance=req.params.get("max_distance"),
            limit=req.params.get("limit"),
        )
        body = {"id": record.image_id, "max_distance": distance, "items": [match_view(m) for m in matches]}
        return json_response(body)

    return _api(req, action)


@app.route(route="duplicates", methods=["GET"])
def list_duplicates(req: func.HttpRequest) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        page = duplicates.duplicate_groups(
            p, user_id=user, limit=req.params.get("limit"), continuation=req.params.get("continuation")
        )
        groups = [{"image": item_view(g.image), "similar": [match_view(m) for m in g.matches]} for g in page.groups]
        return json_response({"groups": groups, "continuation": page.continuation})

    return _api(req, action)


@app.route(route="tags", methods=["GET"])
def list_tags(req: func.HttpRequest) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        counts = library.tag_counts(p, user_id=user)
        return json_response({"tags": [{"name": name, "count": count} for name, count in counts]})

    return _api(req, action)


@app.route(route="images/{id}/thumbnail", methods=["GET"])
def get_thumbnail(req: func.HttpRequest) -> func.HttpResponse:
    return _api(req, lambda p, user: file_response(req, library.thumbnail(p, user_id=user, image_id=_id(req))))


@app.route(route="images/{id}/content", methods=["GET"])
def get_content(req: func.HttpRequest) -> func.HttpResponse:
    return _api(req, lambda p, user: link_response(library.content_link(p, user_id=user, image_id=_id(req))))


@app.route(route="images/{id}/link", methods=["GET"])
def get_link(req: func.HttpRequest) -> func.HttpResponse:
    """The same short-lived link as JSON: a page shows it with an <img>."""
    return _api(req, lambda p, user: link_view(library.content_link(p, user_id=user, image_id=_id(req))))


@app.route(route="images/{id}", methods=["DELETE"])
def delete_image(req: func.HttpRequest) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        library.delete_image(p, user_id=user, image_id=_id(req))
        return func.HttpResponse(status_code=204)

    return _api(req, action)


@app.route(route="images/{id}/tags/{name}", methods=["PUT"])
def put_tag(req: func.HttpRequest) -> func.HttpResponse:
    return _change_tag(req, library.add_user_tag)


@app.route(route="images/{id}/tags/{name}", methods=["DELETE"])
def delete_tag(req: func.HttpRequest) -> func.HttpResponse:
    return _change_tag(req, library.remove_tag)


def _change_tag(req: func.HttpRequest, change: Callable[..., ImageRecord]) -> func.HttpResponse:
    return _api(
        req,
        lambda p, user: json_response(record_view(change(p, user_id=user, image_id=_id(req), name=route_tag(req)))),
    )


@app.route(route="images/{id}/retry", methods=["POST"])
@app.queue_output(arg_name="job", queue_name=JOBS_QUEUE, connection=CONNECTION)
def retry_image(req: func.HttpRequest, job: func.Out[bytes]) -> func.HttpResponse:
    def action(p: Ports, user: str | None) -> func.HttpResponse:
        retry = library.retry_image(p, user_id=user, image_id=_id(req))
        job.set(retry.job.message())
        image_id = retry.record.image_id
        return json_response(
            {"id": image_id, "status": retry.record.status}, status=202, headers={"Location": f"/api/images/{image_id}"}
        )

    return _api(req, action)


def _api(req: func.HttpRequest, action: Callable[[Ports, str | None], func.HttpResponse]) -> func.HttpResponse:
    """An API call: the ports and the caller (as far as something vouches for them), then the action."""

    def run() -> func.HttpResponse:
        p = ports()
        return action(p, caller_id(req, p.settings))

    return handle(req, run)


def _id(req: func.HttpRequest) -> str | None:
    image_id: str | None = req.route_params.get("id")
    return image_id


@app.queue_trigger(arg_name="msg", queue_name=JOBS_QUEUE, connection=CONNECTION)
@app.table_output(arg_name="record", table_name=RECORDS_TABLE, connection=CONNECTION)
@app.queue_output(arg_name="poison", queue_name=POISON_QUEUE, connection=CONNECTION)
def tag_image(msg: func.QueueMessage, record: func.Out[bytes], poison: func.Out[bytes]) -> None:
    try:
        job = worker.parse_job(msg.get_body())
    except MalformedJobError as exc:
        # Retrying cannot fix a malformed message: park it, unchanged, where the host parks poison.
        logger.error("Message %s is not a valid job (%s); moved to %s", msg.id, exc, POISON_QUEUE)
        poison.set(msg.get_body())
        return
    p = ports()
    # The message id names this delivery and its retries; a duplicate job arrives as another message.
    result = worker.tag_image(p, job, claimant=msg.id or str(uuid.uuid4()))
    if result is not None:
        record.set(p.records.binding_value(result))


@app.queue_trigger(arg_name="msg", queue_name=POISON_QUEUE, connection=CONNECTION)
@app.table_output(arg_name="record", table_name=RECORDS_TABLE, connection=CONNECTION)
def record_failure(msg: func.QueueMessage, record: func.Out[bytes]) -> None:
    """Jobs the host gave up on (maxDequeueCount failures) end here: the image is recorded as failed, so its
    owner sees why and can retry it; a malformed message is logged with its id and dropped."""
    try:
        job = worker.parse_job(msg.get_body())
    except MalformedJobError as exc:
        logger.error("Poison message %s is not a valid job (%s); dropped", msg.id, exc)
        return
    reason = f"Tagging failed repeatedly on our side. Retry with POST /api/images/{job.image_id}/retry."
    p = ports()
    result = worker.record_failure(p, job, reason)
    if result is not None:
        logger.warning("Image %s recorded as failed after its job was poisoned (message %s)", job.image_id, msg.id)
        record.set(p.records.binding_value(result))
