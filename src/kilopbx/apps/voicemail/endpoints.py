"""voicemail/query (spec 60)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.voicemail.service import NO_SUCH_EXTENSION, VOICEMAIL


@endpoint("voicemail/query", needs_body=True)
async def voicemail_query(req: Request) -> dict[str, Any]:
    boxes = await req.pbx.registry.get(VOICEMAIL).query(required(req.body, "number"))
    if not boxes:
        return {}  # spec 60: no `voicemails` key at all when there is no message
    return {
        "voicemails": [
            {
                "number": number,
                "voicemail": [
                    {
                        "voicemailfile": m.file,
                        "messagefrom": m.caller,
                        "voicemailstatus": m.status,
                        "voicemaildate": m.date_text,
                        "voicemaillength": str(m.seconds),
                    }
                    for m in messages
                ],
            }
            for number, messages in boxes
        ]
    }


map_reasons({NO_SUCH_EXTENSION: "10006"})
