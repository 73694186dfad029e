"""An operator opens a case for an alert the platform did not make one of (``POST /api/alerts/{id}/case``): once, in place."""

from datetime import UTC, datetime

import shapely
import sqlalchemy as sa

from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Area, Case, CaseSignal

XUJIAHUI, TIANPING, XUHUI, DONGTANG = "310104014", "310104003", "310104", "310104014001"


def area_alert(sessions, street_code, rule="pm25_24h", committee_code=None):
    """An open red alert on an area's vital sign, which no category takes in by itself."""
    with transaction(sessions) as session:
        alert = Alert(rule=rule, subject=f"area:{street_code or XUHUI}/{rule}", level=4, opened_at=datetime.now(UTC),
                      title={"zh": "PM2.5 24小时均值超标", "en": "PM2.5 24-hour mean too high"}, department="生态环境局",
                      district_code=XUHUI, street_code=street_code, committee_code=committee_code)
        session.add(alert)
        session.flush()
        return alert.id


def test_a_street_alert_becomes_one_case_inside_the_street_and_a_second_try_names_it(client, role_headers, xuhui):
    alert_id = area_alert(xuhui, XUJIAHUI, committee_code=DONGTANG)  # a committee without a boundary: inside its street
    commander = role_headers["district_commander"]
    response = client.post(f"/api/alerts/{alert_id}/case", json={"category": "市容环境"}, headers=commander)
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["channel"], case["category"], case["street_code"], case["linked"]) == ("sensor", "市容环境", XUJIAHUI, False)
    assert case["title"] == "PM2.5 24小时均值超标" and case["state"] == "dispatched"
    with xuhui() as session:
        street = session.scalar(sa.select(Area.geometry).where(Area.code == XUJIAHUI))
        stored = session.get_one(Case, case["id"])
        signals = session.scalars(sa.select(CaseSignal.alert_id).where(CaseSignal.case_id == case["id"])).all()
    assert stored.alert_id == alert_id and signals == [alert_id]
    assert street.contains(shapely.Point(stored.lon, stored.lat))
    again = client.post(f"/api/alerts/{alert_id}/case", json={"category": "市容环境"}, headers=commander)
    assert again.status_code == 409 and case["number"] in again.text and "已立为案件" in again.text


def test_a_district_wide_alert_becomes_a_case_without_a_place(client, role_headers, xuhui):
    alert_id = area_alert(xuhui, None)
    response = client.post(f"/api/alerts/{alert_id}/case", json={"category": "市容环境"}, headers=role_headers["district_commander"])
    assert response.status_code == 201, response.text
    assert (response.json()["lon"], response.json()["street_code"]) == (None, None)


def test_only_those_who_handle_alerts_in_their_scope_open_cases_of_them(client, role_headers, xuhui):
    elsewhere = area_alert(xuhui, TIANPING)
    operator = role_headers["street_operator"]  # 徐家汇's
    refused = client.post(f"/api/alerts/{elsewhere}/case", json={"category": "市容环境"}, headers=operator)
    assert refused.status_code == 404 and f"no alert {elsewhere}" in refused.text
    for role in ("citizen", "hotline_operator", "analyst"):
        assert client.post(f"/api/alerts/{elsewhere}/case", json={"category": "市容环境"}, headers=role_headers[role]).status_code == 403
    unknown = client.post(f"/api/alerts/{elsewhere}/case", json={"category": "天气"}, headers=role_headers["district_commander"])
    assert unknown.status_code == 422 and "天气" in unknown.text
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CaseSignal).where(CaseSignal.alert_id == elsewhere)) == 0
