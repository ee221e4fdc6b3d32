"""The jinja2 environment of ``report.html``: templates are package data, output is escaped.

Every value that reaches a page passes through jinja2's autoescaping; a fragment
rendered by one template and placed in another is :class:`markupsafe.Markup`, so it
is not escaped twice.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

__all__ = ["macro", "render"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("backtest.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        keep_trailing_newline=False,
    )


def render(name: str, **context) -> Markup:
    """Template ``name`` rendered with ``context`` (escaped), as markup.

    Examples
    --------
    >>> str(render("blocks.html.j2"))
    ''
    """
    return Markup(_environment().get_template(name).render(**context))


def macro(name: str, template: str = "blocks.html.j2"):
    """Macro ``name`` of ``template``; calling it returns escaped markup.

    Examples
    --------
    >>> str(macro("links")([("a.csv", "a<b")]))
    '<ul>\\n<li><a href="a.csv">a&lt;b</a></li>\\n</ul>'
    """
    module = _environment().get_template(template).module
    function = getattr(module, name)
    return lambda *args, **kwargs: Markup(function(*args, **kwargs))
