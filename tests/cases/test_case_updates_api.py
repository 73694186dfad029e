"""Over HTTP: photos of a case's steps, notes written for the reporters, and the reporters' own word (Open311 updates)."""

import io
import os
from datetime import timedelta

import requests
import sqlalchemy as sa
import xmltodict
from PIL import Image
from test_case_photos import jpeg
from test_cases_api import report

from huizhili.identity.accounts import create_api_key, create_user
from huizhili.storage.engine import transaction
from huizhili.storage.models import Case, CaseSignal

HANDLER = "department_handler"  # 绿化市容局, which handles the 绿化养护 cases of test_cases_api.report


def step(client, headers, case_id, action, **fields):
    """Take a step through ``client``: a TestClient, or anything with its ``post(path, json=, headers=)``."""
    response = client.post(f"/api/cases/{case_id}/actions", json={"action": action, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def upload(client, headers, case_id, data, name="IMG_0001.jpg", kind="image/jpeg", public=False):
    return client.post(f"/api/cases/{case_id}/photos", files={"file": (name, data, kind)}, headers=headers,
                       data={"public": "true" if public else "false"})


def test_a_handling_photo_is_shown_stripped_and_where_it_was_taken_only_to_readers_of_personal_data(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    handler = role_headers[HANDLER]
    step(client, handler, case["id"], "accept")
    step(client, handler, case["id"], "start")
    uploaded = upload(client, handler, case["id"], jpeg(), public=True)
    assert uploaded.status_code == 201, uploaded.text
    photo = uploaded.json()
    assert (photo["step"], photo["width"], photo["height"], photo["taken_lon"], photo["public"]) == (None, 48, 64, 121.4473, True)
    private = upload(client, handler, case["id"], jpeg()).json()  # the yard behind the tree: for the staff only
    step(client, handler, case["id"], "handle", note="已扶正树木并加固", photos=[photo["id"], private["id"]])
    for role, position in (("district_commander", (121.4473, 31.2065)), ("analyst", (None, None))):
        shown, _ = client.get(f"/api/cases/{case['id']}", headers=role_headers[role]).json()["photos"]
        assert (shown["id"], shown["step"], (shown["taken_lon"], shown["taken_lat"])) == (photo["id"], "handle", position)
    picture = client.get(f"/api/cases/{case['id']}/photos/{photo['id']}", headers=role_headers["analyst"])
    assert picture.headers["content-type"] == "image/jpeg" and b"Zhang" not in picture.content
    assert dict(Image.open(io.BytesIO(picture.content)).getexif()) == {}
    public = client.get(f"/api/public/cases/{case['number']}").json()
    handled = next(s for s in public["timeline"] if s["action"] == "handle")
    assert handled["photos"] == [photo["id"]] and handled["note"] is None  # the handler's note is for the staff
    shared = client.get(f"/api/public/cases/{case['number']}/photos/{photo['id']}")
    assert shared.status_code == 200 and shared.content == picture.content
    assert client.get(f"/api/public/cases/{case['number']}/photos/{private['id']}").status_code == 404


def test_a_phone_photo_of_several_megabytes_is_taken(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    noisy = io.BytesIO()
    Image.frombytes("RGB", (1800, 1200), os.urandom(1800 * 1200 * 3)).save(noisy, "JPEG", quality=95)
    assert len(noisy.getvalue()) > 2 * 1024 * 1024  # over the 1 MiB of an ordinary request
    uploaded = upload(client, role_headers[HANDLER], case["id"], noisy.getvalue())
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["width"], uploaded.json()["height"]) == (1800, 1200)


def test_an_upload_that_is_no_picture_or_not_yet_attached_is_not_shown(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    handler = role_headers[HANDLER]
    refused = upload(client, handler, case["id"], b"%PDF-1.7 not a photo", name="photo.jpg")
    assert refused.status_code == 422 and "photo.jpg" in refused.json()["detail"]
    waiting = upload(client, handler, case["id"], jpeg(), public=True).json()
    assert client.get(f"/api/public/cases/{case['number']}/photos/{waiting['id']}").status_code == 404
    step(client, handler, case["id"], "return", reason="非本单位", photos=[waiting["id"]])  # a step not on the public timeline
    assert client.get(f"/api/public/cases/{case['number']}/photos/{waiting['id']}").status_code == 404
    assert upload(client, role_headers["analyst"], case["id"], jpeg()).status_code == 403  # reads cases, handles none
    assert upload(client, handler, 10**9, jpeg()).status_code == 404


def test_a_note_written_for_the_reporters_shows_on_the_public_timeline(client, role_headers):
    case = report(client, role_headers["hotline_operator"])
    step(client, role_headers[HANDLER], case["id"], "note", note="已联系园林队，明早到场处理")
    [note] = [s for s in client.get(f"/api/public/cases/{case['number']}").json()["timeline"] if s["action"] == "note"]
    assert (note["note"], note["action_name"]["zh"]) == ("已联系园林队，明早到场处理", "进展说明")
    [request] = client.get(f"/api/open311/v2/requests/{case['number']}.json", params={"extensions": "true"}).json()
    assert [n["description"] for n in request["notes"] if n["type"] == "note"] == ["已联系园林队，明早到场处理"]
    assert all(n["description"] is None for n in request["notes"] if n["type"] != "note")  # other steps' notes are the staff's


def close(client, role_headers, case_id):
    handler, commander = role_headers[HANDLER], role_headers["district_commander"]
    for action, fields in (("accept", {}), ("start", {}), ("handle", {"note": "已处理"})):
        step(client, handler, case_id, action, **fields)
    step(client, commander, case_id, "verify")
    return step(client, commander, case_id, "close")


def test_a_reporter_says_over_open311_it_is_not_fixed_and_a_recent_case_reopens(serve, settings, role_headers, sessions):
    app, address = serve(settings)
    base = f"http://{address}"
    key = role_headers["citizen"]["X-API-Key"]
    posted = requests.post(f"{base}/api/open311/v2/requests.json", timeout=10, data={
        "api_key": key, "service_code": "greenery", "lat": "31.19", "long": "121.437", "description": "人行道树木倒伏"})
    assert posted.status_code == 200, posted.text
    with sessions() as session:
        number = posted.json()[0]["service_request_id"]
        case = {"number": number, "id": session.scalar(sa.select(Case.id).where(Case.number == number))}
    comment = requests.post(f"{base}/api/open311/v2/servicerequestupdates.json", timeout=10, data={
        "api_key": key, "service_request_id": case["number"], "description": "树枝还压着电线，请尽快", "first_name": "小明",
        "last_name": "王", "phone": "13912345678"})
    assert comment.status_code == 200, comment.text
    [answer] = comment.json()
    assert answer["service_request_id"] == case["number"] and answer["update_id"].isdigit()
    closed = close(Http(base), role_headers, case["id"])
    assert closed["state"] == "closed"
    someone_else = requests.post(f"{base}/api/open311/v2/servicerequestupdates.json", timeout=10, data={
        "api_key": role_headers["service"]["X-API-Key"], "service_request_id": case["number"], "status": "OPEN",
        "description": "路过看到还没修"})
    assert someone_else.json()[0]["service_notice"].startswith("已收到补充反映")  # not its reporter: a comment, no reopening
    not_fixed = requests.post(f"{base}/api/open311/v2/servicerequestupdates.xml", timeout=10, data={
        "api_key": key, "service_request_id": case["number"], "status": "OPEN", "description": "根本没有处理，树还倒着"})
    assert not_fixed.status_code == 200 and not_fixed.headers["content-type"].startswith("text/xml")
    update = xmltodict.parse(not_fixed.content)["service_request_updates"]["request_update"]
    assert update["service_notice"].startswith("已重新办理")
    with sessions() as session:
        reopened = session.get(Case, case["id"])
        assert (reopened.state, reopened.reopen_count) == ("dispatched", 1)
        words = session.scalars(sa.select(CaseSignal).where(CaseSignal.case_id == case["id"], CaseSignal.linked_by == "comment")
                                .order_by(CaseSignal.id)).all()
        assert [(w.text, w.reporter_name) for w in words] == [
            ("树枝还压着电线，请尽快", "王小明"), ("路过看到还没修", None), ("根本没有处理，树还倒着", None)]
    public = requests.get(f"{base}/api/public/cases/{case['number']}", timeout=10)
    assert [s["action"] for s in public.json()["timeline"]][-2:] == ["comment", "reopen"]
    assert "树枝" not in public.text and "王小明" not in public.text  # the reporters' words are for the staff
    with sessions() as session:
        since = session.get(Case, case["id"]).received_at - timedelta(hours=1)
    feed = requests.get(f"{base}/api/open311/v2/servicerequestupdates.json", timeout=10, params={
        "start_date": since.isoformat(), "end_date": (since + timedelta(days=1)).isoformat()}).json()
    assert "市民补充反映" in {u["description"].split()[0] for u in feed if u["service_request_id"] == case["number"]}


def test_a_case_closed_long_ago_is_not_reopened_by_a_comment(client, role_headers, sessions):
    case = report(client, role_headers["hotline_operator"])
    close(client, role_headers, case["id"])
    with sessions() as session, session.begin():
        old = session.get(Case, case["id"])
        old.closed_at -= timedelta(days=31)
    answer = client.post("/api/open311/v2/servicerequestupdates.json", data={
        "api_key": role_headers["citizen"]["X-API-Key"], "service_request_id": case["number"], "status": "open",
        "description": "还是没修好"})
    assert answer.status_code == 200 and answer.json()[0]["service_notice"].startswith("已收到补充反映")
    with sessions() as session:
        assert session.get(Case, case["id"]).state == "closed"
    elderly = report(client, role_headers["hotline_operator"], title="独居老人求助", category="养老服务")
    for wrong, status, says in (({"service_request_id": case["number"], "description": " "}, 400, "1 to 4000 characters"),
                                ({"service_request_id": "209901010000011234", "description": "x"}, 404, "no case numbered"),
                                ({"service_request_id": elderly["number"], "description": "x"}, 404, "no case numbered"),
                                ({"service_request_id": case["number"], "description": "x", "status": "fixed"}, 400, "OPEN or CLOSED")):
        refused = client.post("/api/open311/v2/servicerequestupdates.json",
                              data={"api_key": role_headers["citizen"]["X-API-Key"], **wrong})
        assert refused.status_code == status and says in refused.json()[0]["description"]


class Http:
    """Real HTTP to a served platform, posting as a TestClient does."""

    def __init__(self, base):
        self.base = base

    def post(self, path, json, headers):
        return requests.post(self.base + path, json=json, headers=headers, timeout=10)


def test_a_citizen_follows_his_own_reports_help_requests_too_and_adds_a_photo_to_them(client, role_headers, sessions):
    citizen = role_headers["citizen"]
    with transaction(sessions) as session:
        create_user(session, "neighbour", "citizen")
        neighbour = {"X-API-Key": create_api_key(session, "neighbour", "phone")[1]}
    help_call = client.post("/api/cases", headers=citizen, json={
        "title": "一键求助：家中老人摔倒", "category": "养老服务", "lon": 121.437, "lat": 31.19})
    assert help_call.status_code == 201, help_call.text
    number = help_call.json()["number"]
    assert client.get(f"/api/public/cases/{number}").status_code == 404  # never public
    [mine] = client.get("/api/me/cases", headers=citizen).json()
    assert (mine["number"], mine["category"], mine["open"]) == (number, "养老服务", True)
    assert client.get("/api/me/cases", headers=neighbour).json() == []
    photo = client.post(f"/api/me/cases/{number}/photos", headers=citizen, files={"file": ("fall.jpg", jpeg(), "image/jpeg")})
    assert photo.status_code == 201, photo.text
    assert (photo.json()["step"], photo.json()["public"], photo.json()["taken_lon"]) == ("receive", False, None)
    assert client.post(f"/api/me/cases/{number}/photos", headers=neighbour,
                       files={"file": ("x.jpg", jpeg(), "image/jpeg")}).status_code == 404
    with sessions() as session:
        case_id = session.scalar(sa.select(Case.id).where(Case.number == number))
    [kept] = client.get(f"/api/cases/{case_id}", headers=role_headers["district_commander"]).json()["photos"]
    assert (kept["id"], kept["step"], kept["taken_lon"]) == (photo.json()["id"], "receive", 121.4473)
