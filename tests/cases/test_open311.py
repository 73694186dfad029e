"""Open311 GeoReport v2, proven by clients from PyPI over real HTTP: georeport reads, civicbot posts, in JSON and XML.

No Python 3 library on PyPI both posts and decodes XML: georeport (0.3.1) reads in both formats
but cannot post; civicbot (0.4.0) posts but decodes JSON only. So the XML post is prepared by
civicbot (its URL and form: ``long``, ``attribute[code]``, ``api_key``) and sent with requests;
decoding that one reply with xmltodict is the only test code in the round trip.
"""

from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa
import xmltodict
from civicbot import Endpoint, HttpTransport, Open311Client
from civicbot.http import RateLimiter
from georeport import GeoReport

from huizhili.storage.models import Case

JURISDICTION = "xuhui.sh.cn"
UNDERPASS = (121.4473, 31.2065)  # 天平路下立交
MANHOLE = (121.437, 31.19)  # in 徐家汇


def as_list(value):
    """xmltodict gives one child as a dict, several as a list."""
    return value if isinstance(value, list) else [value]


def clients(base, fmt):
    reader = GeoReport(base, jurisdiction=JURISDICTION, output_format=fmt)
    endpoint = Endpoint(id="huizhili", name="汇治理", base_url=base, write=True)
    writer = Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
                           jurisdiction_id=JURISDICTION, fmt=fmt)
    return reader, writer


def test_a_pypi_client_lists_services_posts_a_request_and_reads_it_back_in_json_and_xml(serve, settings, role_headers, sessions):
    _, address = serve(settings)
    base = f"http://{address}/api/open311/v2"
    key = role_headers["citizen"]["X-API-Key"]
    posted = {}
    for fmt, code, (lon, lat), attributes in [("json", "flooding", UNDERPASS, {"depth": "knee"}),
                                              ("xml", "roads", MANHOLE, {"asset_ref": "JG-0042"})]:
        reader, writer = clients(base, fmt)
        services = {s["service_code"]: s for s in as_list(reader.get_service_list())}
        assert {"flooding", "roads", "noise", "elderly"} <= set(services)
        assert str(services["flooding"]["metadata"]).lower() == "true" and services["flooding"]["service_name"] == "积水内涝"
        definition = reader.get_service_definition(code)
        attribute = as_list(definition["attributes"]["attribute"] if fmt == "xml" else definition["attributes"])[0]
        assert attribute["code"] == next(iter(attributes))
        request = {"api_key": key, "lat": lat, "lng": lon, "description": f"天平路下立交积水 ({fmt})", "attributes": attributes,
                   "first_name": "小明", "last_name": "王", "phone": "13912345678"}
        if fmt == "json":
            answer = writer.create_request(code, dry_run=False, confirm="SEND", **request).response
            service_request_id = answer[0]["service_request_id"]
        else:
            prepared = writer.build_request(code, **request)
            assert prepared.url == f"{base}/requests.xml"
            reply = requests.post(prepared.url, data=prepared.form, timeout=10)
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
            service_request_id = xmltodict.parse(reply.content)["service_requests"]["request"]["service_request_id"]
        posted[fmt] = service_request_id
        got = reader.get_service_request(str(service_request_id))
        assert (str(got["service_request_id"]), got["status"], got["service_code"]) == (str(service_request_id), "open", code)
        assert "王" not in str(got) and "13912345678" not in str(got)  # the reporter is never public
        listed = as_list(reader.get_service_requests(service_request_id=str(service_request_id)))
        assert [str(r["service_request_id"]) for r in listed] == [str(service_request_id)]
    with sessions() as session:
        cases = {c.number: c for c in session.scalars(sa.select(Case))}
    flood, manhole = cases[posted["json"]], cases[posted["xml"]]
    assert (flood.channel, flood.category, flood.attributes, flood.reporter_name) == ("open311", "积水内涝", {"depth": "knee"}, "王小明")
    assert (manhole.category, manhole.asset_ref, manhole.department) == ("道路设施", "JG-0042", "建设管理委")
    for number in posted.values():  # the citizen follows his requests by their numbers
        public = requests.get(f"http://{address}/api/public/cases/{number}", timeout=10).json()
        assert public["open"] and public["number"] == number


def test_refusals_answer_in_open311s_error_shape(serve, settings, role_headers):
    _, address = serve(settings)
    base = f"http://{address}/api/open311/v2"
    key = role_headers["citizen"]["X-API-Key"]
    no_place = requests.post(f"{base}/requests.json", data={"api_key": key, "service_code": "noise"}, timeout=10)
    assert (no_place.status_code, no_place.json()) == (400, [{"code": 400, "description": "a location is required: lat and long, or address_string"}])
    missing = requests.post(f"{base}/requests.xml", data={"api_key": key, "service_code": "flooding", "lat": 31.2065,
                                                           "long": 121.4473}, timeout=10)
    error = xmltodict.parse(missing.content)["errors"]["error"]
    assert (missing.status_code, error["code"]) == (400, "400") and "attribute[depth] is required" in error["description"]
    assert requests.get(f"{base}/services/nothing.json", timeout=10).status_code == 404
    assert requests.get(f"{base}/services.json", params={"jurisdiction_id": "elsewhere"}, timeout=10).status_code == 404
    assert requests.post(f"{base}/requests.json", data={"service_code": "noise", "lat": 31.2, "long": 121.44}, timeout=10).status_code == 401
    assert requests.get(f"{base}/requests.json", params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"},
                        timeout=10).status_code == 400


def test_a_listed_request_shows_its_public_steps_and_a_merged_one_answers_as_the_case_it_joined(client, role_headers, sessions):
    hotline = role_headers["hotline_operator"]
    first = client.post("/api/cases", json={"title": "井盖缺失", "category": "道路设施", "lon": MANHOLE[0], "lat": MANHOLE[1],
                                            "address": "漕溪北路88弄3号502室", "reporter_name": "王小明"}, headers=hotline).json()
    second = client.post("/api/cases", json={"title": "路面塌陷", "category": "道路设施", "lon": UNDERPASS[0], "lat": UNDERPASS[1]},
                         headers=hotline).json()
    merged = client.post(f"/api/cases/{second['id']}/actions", json={"action": "merge", "into": first["id"]}, headers=hotline)
    assert merged.status_code == 200, merged.text
    with sessions() as session:
        case = session.get(Case, first["id"])
        zone = ZoneInfo("Asia/Shanghai")
        times = [t.astimezone(zone).isoformat() for t in (case.received_at, case.updated_at, case.due_at)]
    listed = client.get("/api/open311/v2/requests.json", params={"extensions": "true"}).json()
    assert listed == [{
        "service_request_id": first["number"], "status": "open", "status_notes": "已派遣 Dispatched", "service_name": "道路设施",
        "service_code": "roads", "description": "道路设施 Roads and street furniture", "agency_responsible": "徐汇区建设和管理委员会",
        "service_notice": None, "requested_datetime": times[0], "updated_datetime": times[1], "expected_datetime": times[2],
        "address": "漕溪北路***", "address_id": None, "zipcode": None, "lat": 31.19, "long": 121.437, "media_url": None,
        "notes": [{"datetime": times[0], "type": action, "summary": summary, "description": None}
                  for action, summary in [("receive", "受理 Received"), ("file", "立案 File"), ("dispatch", "派遣 Dispatch")]]}]
    alone = client.get(f"/api/open311/v2/requests/{second['number']}.json").json()  # the merged one answers as the case it joined
    assert alone == [{key: value for key, value in listed[0].items() if key != "notes"}]
