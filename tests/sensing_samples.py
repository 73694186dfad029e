"""Sample devices and the ingest's limits, shared by the sensing tests."""

from datetime import UTC, datetime

from huizhili.sensing.ingest import Limits

DEVICES_CSV = """code,kind,name,lon,lat,owner_department,installed_at,capacity,interval_s
XH-PM25,air_quality,徐汇监测站,121.4367,31.1887,生态环境局,2013-01-01,,
XH-CROWD,people_counter,徐家汇商圈客流,121.4376,31.1951,,2024-01-01,2000,
TP-WATER,water_level,天平路下立交积水,121.4473,31.2065,,2024-01-01,,60
"""
"""Three devices in 徐家汇 and 天平路 streets: an air-quality station since 2013, a busy point, an underpass gauge."""

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_bytes=16 * 1024, future_s=300, max_age_days=30, no_data_intervals=3, timezone="Asia/Shanghai")

