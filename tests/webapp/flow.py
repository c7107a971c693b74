"""Steps of the permit flow as people take them through the pages."""
from __future__ import annotations

import re

from tests.factories import application_form, files

REVISION_RE = re.compile(r'name="revision" value="(\d+)"')


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def submit_application(client, **overrides) -> tuple[str, str]:
    """Apply for a permit; returns (case id, case number)."""
    draft = client.post("/services/large_vehicle_permit/apply").location
    data = {**application_form(**overrides), **files(), "action": "submit"}
    response = client.post(draft, data=data, content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)[:2000]
    case_id = response.location.rsplit("/", 1)[1]
    number = re.search(r"LVP-\d{4}-\d{6}", text_of(client.get(response.location))).group(0)
    return case_id, number


def inbox_task(client, number: str) -> str:
    """The id of the open task for case ``number`` in the client's inbox."""
    html = client.get("/work/inbox").get_data(as_text=True)
    match = re.search(rf'href="/work/tasks/([0-9a-f-]+)">{number}<', html)
    assert match, f"{number} not in {client.username}'s inbox"
    return match.group(1)


def revision(client, url: str) -> str:
    return REVISION_RE.search(client.get(url).get_data(as_text=True)).group(1)


def claim(client, task_id: str) -> None:
    url = f"/work/tasks/{task_id}"
    response = client.post(f"{url}/claim", {"revision": revision(client, url)})
    assert response.status_code == 302, text_of(response)


def complete(client, task_id: str, **fields):
    url = f"/work/tasks/{task_id}"
    return client.post(url, {"revision": revision(client, url), **fields})


def work(client, number: str, **fields):
    """Claim the case's task in the inbox and complete it with ``fields``."""
    task_id = inbox_task(client, number)
    claim(client, task_id)
    response = complete(client, task_id, **fields)
    assert response.status_code == 302, text_of(response)[:2000]
    return task_id
