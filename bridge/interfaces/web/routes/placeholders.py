"""Pages of issue 12 NOT BUILT YET: Cấp quyền, Phụ lục 01, Phê duyệt, Báo cáo, Rà soát, Nhật ký.

Each answers the "not yet built" page (``placeholder.html``) to a logged-in administrator so the navigation is
complete; the next sessions replace one route here by a module of its own (docs/console.md) and set
``built=True`` on its :data:`bridge.interfaces.web.render.NAV` entry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bridge.interfaces.web.deps import AdminDep
from bridge.interfaces.web.render import NAV, render

router = APIRouter()


def _placeholder(name: str) -> None:
    item = next(i for i in NAV if i.name == name)

    async def page(request: Request, actor: AdminDep) -> HTMLResponse:
        return render(request, "placeholder.html", status_code=501, active=item.name, item=item)

    page.__doc__ = f"{item.label}: not built yet (issue 12, a later phase)."
    router.add_api_route(item.path.removeprefix("/ui"), page, methods=["GET"], name=item.name)


for _item in NAV:
    if not _item.built:
        _placeholder(_item.name)
