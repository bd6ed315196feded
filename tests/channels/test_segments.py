from __future__ import annotations

import pytest

from channels.segments import sms_encoding, sms_segments

ORDER_ZH = "【小卡商城】订单12345已支付，卡密已就绪，请在30分钟内查看：https://s.example/k/abc"


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("", "GSM-7", 0),
    ("a", "GSM-7", 1),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ", "GSM-7", 1),  # basic table, one septet each
    ("€" * 80, "GSM-7", 1),  # extension chars cost two septets: 160
    ("€" * 81, "GSM-7", 2),
    ("^" * 80, "GSM-7", 1),
    ("a" * 159 + "€", "GSM-7", 2),  # 161 septets
    ("a" * 152 + "€" + "a" * 7, "GSM-7", 2),  # 161 septets
    # 306 septets would fit two parts, but the escape pair cannot straddle them
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
    ("你" * 70, "UCS-2", 1),
    ("你" * 71, "UCS-2", 2),
    ("你" * 134, "UCS-2", 2),
    ("你" * 135, "UCS-2", 3),
    (ORDER_ZH, "UCS-2", 1),
    ("Order paid ✓", "UCS-2", 1),  # one non-GSM char switches the whole text
    ("😀" * 35, "UCS-2", 1),  # surrogate pairs: 70 units
    ("😀" * 36, "UCS-2", 2),
    ("a" * 66 + "😀" + "a" * 3, "UCS-2", 2),  # 71 units; the pair is not split
    ("a" * 66 + "😀" + "a" * 66, "UCS-2", 3),
    ("Order 12345 paid. Reply TD to opt out", "GSM-7", 1),
])
def test_segments(text: str, encoding: str, segments: int) -> None:
    assert sms_encoding(text) == encoding
    assert sms_segments(text) == segments
