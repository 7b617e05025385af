"""One way of writing dates everywhere (FORMAT_MODULE_PATH): ISO-like, in the panel's
TIME_ZONE (UTC unless set), not the locale's "Nov. 24, 2026, 3:40 p.m."."""
