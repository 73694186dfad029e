"""Photos of cases (checked, stripped, kept as files), field verification of sensor cases, and their closure proposed on recovery."""

import io
import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from test_case_intake import NOW, UNDERPASS, flood

from huizhili.cases.comments import add_comment
from huizhili.cases.flow import PLATFORM, case_flow
from huizhili.cases.handling import Step, act, propose_recovered
from huizhili.cases.intake import Report, cases_from_alerts, report_case
from huizhili.cases.photos import PhotoStore, add_photo, checked_picture
from huizhili.config import Settings
from huizhili.errors import ConflictError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.policy.privacy import apply_retention
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Case, CaseAction, CasePhoto

ROADS = Principal(username="roads", role="department_handler", department="建设管理委")
COMMANDER = Principal(username="commander", role="district_commander")


def jpeg(size=(64, 48), *, gps=True, artist="Zhang San 张三") -> bytes:
    """A phone's photo: rotated by its EXIF, with the camera owner's name, a GPS position at the underpass and a time."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Artist] = artist
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2026:07:06 08:40:00"}
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (31.0, 12.0, 23.4), 3: "E", 4: (121.0, 26.0, 50.28)}
    out = io.BytesIO()
    Image.new("RGB", size, "steelblue").save(out, "JPEG", exif=exif, comment=b"Zhang's phone", icc_profile=b"Zhang ICC",
                                              xmp=b"<x:xmpmeta>Zhang San</x:xmpmeta>")
    return out.getvalue()


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


@pytest.fixture
def store(tmp_path):
    return PhotoStore(tmp_path / "photos", 200_000, 2_000_000, ZoneInfo("Asia/Shanghai"), waiting_max=3)


def test_a_photo_is_kept_upright_without_any_metadata_and_its_exif_position_apart(store):
    sent = jpeg()
    assert sent.count(b"Zhang") == 4  # EXIF, comment, ICC profile and XMP all name the phone's owner
    picture = checked_picture(store, "IMG_0001.jpg", sent)
    assert (picture.content_type, picture.width, picture.height) == ("image/jpeg", 48, 64)  # turned upright
    assert (picture.taken_lon, picture.taken_lat) == UNDERPASS
    assert picture.taken_at.isoformat() == "2026-07-06T08:40:00+08:00"
    stored = Image.open(io.BytesIO(picture.data))
    assert dict(stored.getexif()) == {} and not {"exif", "xmp", "icc_profile", "comment"} & set(stored.info)
    assert b"Zhang" not in picture.data and "张三".encode() not in picture.data
    assert checked_picture(store, "no-gps.jpg", jpeg(gps=False)).taken_lon is None


def test_a_palette_png_keeps_its_colours_and_a_phones_multi_picture_jpeg_is_taken(store):
    palette, red = io.BytesIO(), Image.new("RGB", (8, 8), (200, 30, 30)).convert("P")
    red.save(palette, "PNG")
    kept = Image.open(io.BytesIO(checked_picture(store, "map.png", palette.getvalue()).data))
    assert kept.convert("RGB").getpixel((3, 3)) == red.convert("RGB").getpixel((3, 3)) == (204, 51, 51)  # not black
    mpo = io.BytesIO()
    Image.new("RGB", (32, 24), "olive").save(mpo, "MPO", save_all=True, append_images=[Image.new("RGB", (32, 24), "black")])
    assert Image.open(io.BytesIO(mpo.getvalue())).format == "MPO"
    picture = checked_picture(store, "iphone.jpg", mpo.getvalue())
    assert (picture.content_type, picture.width, Image.open(io.BytesIO(picture.data)).format) == ("image/jpeg", 32, "JPEG")


@pytest.mark.parametrize(("name", "data", "says"), [
    ("empty.jpg", b"", "is empty"),
    ("notes.jpg", "这不是图片".encode() * 10, "not a JPEG, PNG or WebP picture"),
    ("half.jpg", jpeg()[:300], "not a picture that can be read"),
    ("big.jpg", b"\xff\xd8" + b"0" * 200_001, "at most 200,000 are taken"),
])
def test_what_is_not_a_picture_that_is_taken_is_refused_naming_the_file(store, name, data, says):
    with pytest.raises(ValidationError, match=says) as refused:
        checked_picture(store, name, data)
    assert name in str(refused.value)


def test_other_picture_types_and_pictures_that_unpack_too_large_are_refused(store):
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    with pytest.raises(ValidationError, match="not a JPEG, PNG or WebP picture"):
        checked_picture(store, "anim.gif", gif.getvalue())  # no GIF reader even looks at it
    huge = io.BytesIO()
    Image.new("1", (3000, 3000)).save(huge, "PNG")  # 9 megapixels in a few kilobytes
    assert len(huge.getvalue()) < 200_000
    with pytest.raises(ValidationError, match="too many|像素过多"):
        checked_picture(store, "bomb.png", huge.getvalue())


def sensor_case(xuhui, flow):
    """The flooded underpass's case, accepted and worked on by the roads department."""
    flood(xuhui, [(0, 3), (60, 30), (120, 31)])
    with transaction(xuhui) as session:
        [intake] = cases_from_alerts(session, flow, NOW + timedelta(seconds=120))
        case_id = intake.case.id
        for action in ("accept", "start"):
            act(session, Scope(ROADS), ROADS, flow, case_id, action, Step(), NOW + timedelta(minutes=5))
    return case_id


def test_a_flooding_case_is_verified_only_with_a_field_photo(xuhui, flow, provisioned, store):
    case_id = sensor_case(xuhui, flow)
    later = NOW + timedelta(minutes=40)
    with transaction(xuhui) as session:
        act(session, Scope(ROADS), ROADS, flow, case_id, "handle", Step(note="泵车抽排完毕"), later)
    with transaction(xuhui) as session, pytest.raises(ValidationError, match="needs a field photo"):
        act(session, Scope(COMMANDER), COMMANDER, flow, case_id, "verify", Step(), later)
    with transaction(xuhui) as session:
        photo = add_photo(session, Scope(COMMANDER), store, COMMANDER, case_id, "site.jpg", jpeg(), later)
        photo_id, path = photo.id, store.path(photo)
    assert path.is_file() and path.name == f"{photo.sha256}.jpg"
    with transaction(xuhui) as session, pytest.raises(ValidationError, match="not photos you uploaded"):
        act(session, Scope(ROADS), ROADS, flow, case_id, "note", Step(note="x", photos=(photo_id,)), later)
    with transaction(xuhui) as session:
        act(session, Scope(COMMANDER), COMMANDER, flow, case_id, "verify", Step(photos=(photo_id,)), later)
    with xuhui() as session:
        attached = session.get(CasePhoto, photo_id)
        step = session.get(CaseAction, attached.action_id)
        assert (step.action, step.actor, session.get(Case, case_id).state) == ("verify", "commander", "verified")


def test_photos_waiting_for_a_step_are_capped_per_uploader_until_he_takes_it(xuhui, flow, provisioned, store):
    case_id = sensor_case(xuhui, flow)
    later = NOW + timedelta(minutes=40)
    with transaction(xuhui) as session:
        waiting = [add_photo(session, Scope(ROADS), store, ROADS, case_id, f"site-{n}.jpg", jpeg(size=(64 + n, 48)), later).id
                   for n in range(3)]
    with transaction(xuhui) as session, pytest.raises(ConflictError, match="3 of your photos wait for a step"):
        add_photo(session, Scope(ROADS), store, ROADS, case_id, "one-more.jpg", jpeg(), later)
    with transaction(xuhui) as session:  # someone else's uploads are his own
        add_photo(session, Scope(COMMANDER), store, COMMANDER, case_id, "commander.jpg", jpeg(), later)
    with transaction(xuhui) as session:
        act(session, Scope(ROADS), ROADS, flow, case_id, "handle", Step(note="泵车抽排完毕", photos=tuple(waiting)), later)
        add_photo(session, Scope(ROADS), store, ROADS, case_id, "after.jpg", jpeg(), later)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CasePhoto).where(CasePhoto.uploaded_by == "roads")) == 4


def test_the_step_a_photo_was_attached_to_cannot_be_changed_or_cleared_afterwards(xuhui, flow, provisioned, store):
    case_id = sensor_case(xuhui, flow)
    later = NOW + timedelta(minutes=40)
    with transaction(xuhui) as session:
        photo_id = add_photo(session, Scope(ROADS), store, ROADS, case_id, "site.jpg", jpeg(), later).id
        act(session, Scope(ROADS), ROADS, flow, case_id, "handle", Step(note="泵车抽排完毕", photos=(photo_id,)), later)
        act(session, Scope(ROADS), ROADS, flow, case_id, "note", Step(note="现场已清理"), later)
    with xuhui() as session:
        steps = session.scalars(sa.select(CaseAction.id).where(CaseAction.case_id == case_id).order_by(CaseAction.id)).all()
        attached = session.get_one(CasePhoto, photo_id).action_id
    for moved in (steps[-1], None):
        with pytest.raises(sa.exc.DatabaseError, match="a case photo's step is written once"), transaction(xuhui) as session:
            session.execute(sa.update(CasePhoto).where(CasePhoto.id == photo_id).values(action_id=moved))
    with transaction(xuhui) as session:  # what the retention erases stays erasable
        session.execute(sa.update(CasePhoto).where(CasePhoto.id == photo_id).values(taken_lon=None, taken_lat=None))
    with xuhui() as session:
        assert session.get_one(CasePhoto, photo_id).action_id == attached


def test_a_sensor_case_merged_into_a_citizens_still_asks_for_its_field_photo(xuhui, flow, provisioned):
    case_id = sensor_case(xuhui, flow)
    with transaction(xuhui) as session:
        citizens = report_case(session, Scope(COMMANDER), COMMANDER, flow, Report(
            channel="hotline", title="路口积水", lon=UNDERPASS[0] + 0.01, lat=UNDERPASS[1], category="积水内涝"), NOW).case.id
        act(session, Scope(COMMANDER), COMMANDER, flow, case_id, "merge", Step(into=citizens), NOW)
        for action, step in (("accept", Step()), ("start", Step()), ("handle", Step(note="已排水"))):
            act(session, Scope(ROADS), ROADS, flow, citizens, action, step, NOW)
    with transaction(xuhui) as session, pytest.raises(ValidationError, match="flooding: verifying it needs a field photo"):
        act(session, Scope(COMMANDER), COMMANDER, flow, citizens, "verify", Step(), NOW)


def test_a_citizens_flood_case_without_a_sensor_is_verified_as_the_workflow_says(xuhui, flow, store):
    with transaction(xuhui) as session:
        case = report_case(session, Scope(COMMANDER), COMMANDER, flow, Report(
            channel="hotline", title="下立交积水", lon=UNDERPASS[0], lat=UNDERPASS[1], category="积水内涝"), NOW).case
        for action, step in (("accept", Step()), ("start", Step()), ("handle", Step(note="已排水"))):
            act(session, Scope(ROADS), ROADS, flow, case.id, action, step, NOW)
        assert act(session, Scope(COMMANDER), COMMANDER, flow, case.id, "verify", Step(), NOW).state == "verified"


def test_a_sensor_case_whose_sensor_recovered_is_proposed_for_verification_once(xuhui, flow, provisioned):
    case_id = sensor_case(xuhui, flow)
    flood(xuhui, [(600, 2), (660, 1), (720, 1)])  # the water is gone
    recovered = NOW + timedelta(seconds=720)
    with xuhui() as session:
        assert session.scalar(sa.select(Alert.resolution).join(Case, Case.alert_id == Alert.id).where(Case.id == case_id)) == "recovered"
    with transaction(xuhui) as session:
        [proposed] = propose_recovered(session, flow, recovered)
        assert (proposed.id, proposed.state, proposed.closure_proposed_at) == (case_id, "handled", recovered)
        act(session, Scope(COMMANDER), COMMANDER, flow, case_id, "rework", Step(reason="现场仍有积水"), recovered)
    with transaction(xuhui) as session:
        assert propose_recovered(session, flow, recovered + timedelta(minutes=1)) == []  # reworked: not proposed again
        steps = session.scalars(sa.select(CaseAction).where(CaseAction.case_id == case_id).order_by(CaseAction.id)).all()
        proposal = next(s for s in steps if s.action == "propose_closure")
        assert (proposal.actor, proposal.role, proposal.public, proposal.details["alert"]) == (
            PLATFORM.username, "system", True, session.get(Case, case_id).alert_id)


def test_a_photos_camera_position_is_erased_with_the_closed_cases_personal_fields(xuhui, flow, provisioned, store):
    case_id = sensor_case(xuhui, flow)
    with transaction(xuhui) as session:
        photo_id = add_photo(session, Scope(ROADS), store, ROADS, case_id, "a.jpg", jpeg(), NOW).id
        session.get(Case, case_id).closed_at = NOW
    with transaction(xuhui) as session:
        outcomes = apply_retention(session, Settings(), now=NOW + timedelta(days=731))
        assert next(o for o in outcomes if o.resource == "case_photos").records == 1
    with xuhui() as session:
        photo = session.get(CasePhoto, photo_id)
        assert (photo.taken_lon, photo.taken_lat, photo.width) == (None, None, 48)


def test_two_not_fixed_words_at_once_reopen_the_case_once(xuhui, flow):
    """The second waits on the first's lock and then sees the case reopened: one reopening, a true trail."""
    app = Principal(username="app", role="service")
    with transaction(xuhui) as session:
        case = report_case(session, Scope(app), app, flow, Report(
            channel="open311", title="积水", lon=UNDERPASS[0], lat=UNDERPASS[1], category="积水内涝"), NOW).case
        for who, action, step in ((ROADS, "accept", Step()), (ROADS, "start", Step()), (ROADS, "handle", Step(note="ok")),
                                  (COMMANDER, "verify", Step()), (COMMANDER, "close", Step())):
            act(session, Scope(who), who, flow, case.id, action, step, NOW)
        number, case_id = case.number, case.id
    first_done, release, reopened = threading.Event(), threading.Event(), {}

    def say(which):
        if which == 2:
            first_done.wait(10)
        with transaction(xuhui) as session:
            reopened[which] = add_comment(session, flow, app, number, f"没修好 {which}", channel="open311", not_fixed=True,
                                          reopen_days=30, now=NOW + timedelta(hours=1)).reopened
            if which == 1:
                first_done.set()
                release.wait(10)

    threads = [threading.Thread(target=say, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    first_done.wait(10)
    time.sleep(1)
    release.set()
    for thread in threads:
        thread.join()
    assert reopened == {1: True, 2: False}
    with xuhui() as session:
        assert session.get(Case, case_id).reopen_count == 1
        steps = session.scalars(sa.select(CaseAction).where(CaseAction.case_id == case_id).order_by(CaseAction.id)).all()
        assert [(s.action, s.from_state, s.to_state) for s in steps][-3:] == [
            ("comment", "closed", "closed"), ("reopen", "closed", "dispatched"), ("comment", "dispatched", "dispatched")]
