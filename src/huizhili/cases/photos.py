"""Photos of a case: checked to be pictures, stripped of everything but the picture, kept as files.

A photo is read by Pillow: its type is what the bytes are, not what the upload claims, and a
file that does not decode is refused. It is refused too beyond ``photo_max_bytes`` or
``photo_max_pixels`` (a small file can unpack into a huge picture). It is turned upright by
its EXIF orientation and written again without any metadata, so the stored file never carries
the phone's position or its owner's name. Where the EXIF gave a position and a time, they are
kept in the row: the position is a personal field (``policy.privacy``), shown only to readers
with ``read:personal``, and lets a verifier see that a field photo was taken at the place.

Files are named by the SHA-256 of what is stored, under ``photo_dir``, outside every table that
lists cases. The file is written and synced before the row is committed; a row never points to
a missing file (a file whose row was rolled back is an orphan, harmless and named by its hash).
"""

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.errors import ConflictError, NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.storage.models import Case, CaseAction, CasePhoto

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
"""The picture formats taken, as Pillow names them: their media type and the stored file's extension."""

_READ_AS = {"MPO": "JPEG"}
"""Formats read as another: a phone's JPEG with more pictures in it (MPO: an HDR gain map, a depth map; Pillow's JPEG reader gives it) keeps its first."""

LONGEST_SIDE = 4096
"""Larger pictures are scaled down to this on their longest side: enough to see a crack, not a phone's full sensor."""


WAITING_WINDOW = timedelta(days=1)
"""How far back photos waiting for their uploader's step count against his cap."""


@dataclass(frozen=True)
class PhotoStore:
    """Where photos are kept and what is accepted: from the settings."""

    folder: Path
    max_bytes: int
    max_pixels: int
    zone: ZoneInfo
    waiting_max: int
    """Photos one uploader may have waiting for his next step."""

    def path(self, photo: CasePhoto) -> Path:
        """The file of ``photo``: its hash, in a folder of the hash's first two characters."""
        extension = next(ext for media, ext in FORMATS.values() if media == photo.content_type)
        return self.folder / photo.sha256[:2] / f"{photo.sha256}.{extension}"


def photo_store(settings: Settings) -> PhotoStore:
    """The photo store of ``settings``."""
    return PhotoStore(settings.resolved_photo_dir, settings.photo_max_bytes, settings.photo_max_pixels,
                      ZoneInfo(settings.local_timezone), settings.photo_waiting_max)


@dataclass(frozen=True)
class Picture:
    """A checked upload: the stripped picture to store, and what its EXIF said."""

    data: bytes
    content_type: str
    width: int
    height: int
    taken_at: datetime | None
    taken_lon: float | None
    taken_lat: float | None


def checked_picture(store: PhotoStore, name: str, data: bytes) -> Picture:
    """The picture in ``data``, upright and without metadata, with the time and position its EXIF gave.

    Raises
    ------
    ValidationError
        If it is empty, too large, not a JPEG, PNG or WebP picture, does not decode, or has too many pixels; names ``name``.
    """
    if not data:
        message = f"photo {name!r} is empty / 照片为空"
        raise ValidationError(message)
    if len(data) > store.max_bytes:
        message = f"photo {name!r} is {len(data):,} bytes; at most {store.max_bytes:,} are taken / 照片过大"
        raise ValidationError(message)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _opened(store, name, data)
            exif = image.getexif()
            upright = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except UnidentifiedImageError as error:
        message = f"photo {name!r} is not a JPEG, PNG or WebP picture / 不是 JPEG、PNG 或 WebP 图片"
        raise ValidationError(message) from error
    except (Image.DecompressionBombWarning, Image.DecompressionBombError, OSError,
            SyntaxError, ValueError) as error:
        message = f"photo {name!r} is not a picture that can be read (JPEG, PNG or WebP): {error} / 不是可读取的图片"
        raise ValidationError(message) from error
    kind = _READ_AS.get(str(image.format), str(image.format))
    upright.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    lon, lat = _position(exif)
    return Picture(_stripped(upright, kind), FORMATS[kind][0], upright.width, upright.height,
                   _taken_at(exif, store.zone), lon, lat)


def _opened(store: PhotoStore, name: str, data: bytes) -> Image.Image:
    """The decoded picture: first checked by Pillow's ``verify`` (which reads the structure), then fully loaded."""
    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:  # no other parser sees the bytes
        if probe.width * probe.height > store.max_pixels:
            message = (f"photo {name!r} has {probe.width}×{probe.height} pixels; at most {store.max_pixels:,} are taken"
                       " / 照片像素过多")
            raise ValidationError(message)
        probe.verify()
    image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    image.load()
    return image


def _stripped(image: Image.Image, kind: str) -> bytes:
    """The picture written again with no metadata at all (no EXIF, no XMP, no ICC profile, no comment, no text chunks).

    Its pixels are copied into a new picture, which carries nothing else; a palette picture is
    turned into RGB(A) first, since the copy would not keep its palette.
    """
    if image.mode in {"P", "PA"}:
        image = image.convert("RGB" if kind == "JPEG" else "RGBA")
    if kind == "JPEG" and image.mode not in {"RGB", "L"}:
        image = image.convert("RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, "JPEG", quality=90, optimize=True)
    elif kind == "WEBP":
        clean.save(out, "WEBP", quality=90)
    else:
        clean.save(out, "PNG", optimize=True)
    return out.getvalue()


def _rational(value: Any) -> float:
    return float(Fraction(value.numerator, value.denominator)) if hasattr(value, "numerator") else float(value)


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    """The EXIF GPS position in degrees (WGS84, as cameras write it), or none where it is missing or nonsense."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = sum(_rational(part) / 60**i for i, part in enumerate(gps[ExifTags.GPS.GPSLatitude]))
        lon = sum(_rational(part) / 60**i for i, part in enumerate(gps[ExifTags.GPS.GPSLongitude]))
        lat *= -1 if str(gps.get(ExifTags.GPS.GPSLatitudeRef, "N")).upper().startswith("S") else 1
        lon *= -1 if str(gps.get(ExifTags.GPS.GPSLongitudeRef, "E")).upper().startswith("W") else 1
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return round(lon, 7), round(lat, 7)


def _taken_at(exif: Image.Exif, zone: ZoneInfo) -> datetime | None:
    """When the camera says it took the picture: local time with its offset if written, else in the district's zone."""
    details = exif.get_ifd(ExifTags.IFD.Exif)
    text = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    try:
        taken = datetime.strptime(str(text).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    if offset:
        try:
            return datetime.fromisoformat(f"{taken.isoformat()}{str(offset).strip()}")
        except ValueError:
            pass
    return taken.replace(tzinfo=zone)


def add_photo(session: Session, scope: Scope, store: PhotoStore, principal: Principal, case_id: int, name: str,
              data: bytes, now: datetime, *, public: bool = False) -> CasePhoto:
    """Check and keep a photo of case ``case_id``, to be attached to the next step its uploader takes.

    ``public``: the uploader says it shows nothing private (a street, a repaired cover, not the
    inside of a home), so it is shown with its step on the public timeline if the step is public.

    Raises
    ------
    NotFoundError
        If the case is not one the caller may see.
    ValidationError
        If the upload is not a picture that is taken (see :func:`checked_picture`).
    ConflictError
        If the uploader already has ``store.waiting_max`` photos waiting for a step.
    """
    case = session.scalar(sa.select(Case).where(Case.id == case_id, scope.condition(Case)))
    if case is None:
        message = f"no case {case_id} you may see / 无此案件"
        raise NotFoundError(message)
    # Waiting on cases still open, within a day: a photo left on a case since closed, merged or passed on never
    # locks its uploader out, and a day's uploads are still bounded.
    waiting = session.scalar(sa.select(sa.func.count()).select_from(CasePhoto).join(Case, Case.id == CasePhoto.case_id).where(
        CasePhoto.uploaded_by == principal.username, CasePhoto.action_id.is_(None), CasePhoto.uploaded_at >= now - WAITING_WINDOW,
        Case.closed_at.is_(None), Case.merged_into_id.is_(None)))
    if waiting is not None and waiting >= store.waiting_max:
        message = (f"{waiting} of your photos wait for a step: take it (or attach them) before uploading more "
                   f"/ 您已有 {waiting} 张照片尚未随处置步骤提交，请先提交")
        raise ConflictError(message)
    return _keep(session, store, principal, case, name, data, now, public=public)


def add_reporters_photo(session: Session, scope: Scope, store: PhotoStore, principal: Principal, number: str, name: str,
                        data: bytes, now: datetime) -> CasePhoto:
    """A photo the reporter sends with his own report (a citizen's phone): attached to the report itself, for the staff only.

    Raises
    ------
    NotFoundError
        If the caller reported no case with this number.
    ValidationError
        If the upload is not a picture that is taken.
    """
    case = session.scalar(sa.select(Case).where(Case.number == number, scope.reported()))
    if case is None:
        message = f"you reported no case numbered {number!r} / 您未反映过此编号的问题"
        raise NotFoundError(message)
    photo = _keep(session, store, principal, case, name, data, now, public=False)
    report = session.scalar(sa.select(CaseAction.id).where(CaseAction.case_id == case.id).order_by(CaseAction.id).limit(1))
    photo.action_id = report
    return photo


def _keep(session: Session, store: PhotoStore, principal: Principal, case: Case, name: str, data: bytes, now: datetime, *,
          public: bool) -> CasePhoto:
    """Check the picture, write its file, add its row."""
    if case.merged_into_id is not None:
        message = f"case {case.number} was merged into another: add photos there / 案件已合并，请在合并后的案件上传"
        raise ConflictError(message)
    picture = checked_picture(store, name, data)
    photo = CasePhoto(case_id=case.id, sha256=hashlib.sha256(picture.data).hexdigest(), content_type=picture.content_type,
                      bytes=len(picture.data), width=picture.width, height=picture.height, uploaded_by=principal.username,
                      uploaded_at=now, taken_at=picture.taken_at, taken_lon=picture.taken_lon, taken_lat=picture.taken_lat,
                      public=public)
    _write(store.path(photo), picture.data)
    session.add(photo)
    session.flush()
    return photo


def _write(path: Path, data: bytes) -> None:
    """Write the file whole and synced, or not at all; the same picture twice is one file."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")  # one name per writer: threads upload at once
    with os.fdopen(handle, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)


def photos_to_attach(session: Session, principal: Principal, case: Case, photo_ids: tuple[int, ...]) -> list[CasePhoto]:
    """The caller's uploaded photos of this case, not yet attached to a step, for the step he takes now.

    Raises
    ------
    ValidationError
        If a photo is not one this caller uploaded for this case, or is attached to a step already.
    """
    if not photo_ids:
        return []
    photos = list(session.scalars(sa.select(CasePhoto).where(
        CasePhoto.id.in_(photo_ids), CasePhoto.case_id == case.id, CasePhoto.uploaded_by == principal.username,
        CasePhoto.action_id.is_(None)).order_by(CasePhoto.id).with_for_update()))
    if len(photos) != len(set(photo_ids)):
        wrong = sorted(set(photo_ids) - {p.id for p in photos})
        message = (f"photos {wrong} are not photos you uploaded for case {case.number} and not yet attached to a step"
                   f" / 照片 {wrong} 不是您为本案件上传且尚未使用的照片")
        raise ValidationError(message)
    return photos


def case_photos(session: Session, case: Case, *, public_only: bool = False) -> list[tuple[CasePhoto, str | None]]:
    """The photos of ``case`` with the step each documents (none while only uploaded), oldest first.

    ``public_only`` keeps those marked public of steps on the public timeline.
    """
    return [(photo, action) for photo, action in session.execute(_photos(case, public_only=public_only))]


def photo_of(session: Session, case: Case, photo_id: int, *, public_only: bool = False) -> CasePhoto:
    """One photo of ``case``.

    Raises
    ------
    NotFoundError
        If the case has no such photo (among those of public steps, with ``public_only``).
    """
    found = session.execute(_photos(case, public_only=public_only).where(CasePhoto.id == photo_id)).first()
    if found is None:
        message = f"case {case.number} has no photo {photo_id} / 案件无此照片"
        raise NotFoundError(message)
    return found[0]


def _photos(case: Case, *, public_only: bool) -> sa.Select[CasePhoto, str]:
    """The photos of ``case`` with their steps' actions: public ones are those marked public, of a public step."""
    statement = (sa.select(CasePhoto, CaseAction.action).outerjoin(CaseAction, CaseAction.id == CasePhoto.action_id)
                 .where(CasePhoto.case_id == case.id).order_by(CasePhoto.id))
    if public_only:
        statement = statement.where(CaseAction.public.is_(True), CasePhoto.public.is_(True))
    return statement


def photo_out(photo: CasePhoto, action: str | None) -> dict[str, Any]:
    """A photo as the interfaces give it (the taken position is personal: masked by ``policy.privacy.present``)."""
    return {"id": photo.id, "step": action, "action_id": photo.action_id, "content_type": photo.content_type,
            "bytes": photo.bytes, "width": photo.width, "height": photo.height, "uploaded_by": photo.uploaded_by,
            "uploaded_at": photo.uploaded_at, "taken_at": photo.taken_at, "taken_lon": photo.taken_lon,
            "taken_lat": photo.taken_lat, "public": photo.public}
