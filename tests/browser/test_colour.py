#!/usr/bin/env python3
"""Unit tests of tests/browser/colour.py, the contrast maths the browser suite relies on:
known WCAG values, compositing, CSS colour parsing, var() resolution, and the static check
of style.css on a small synthetic stylesheet and on the real one.

    python3 tests/browser/test_colour.py

Any python3, standard library only. Prints `ok - name` / `FAIL - name: reason`, then
`N passed, N failed`; exits 1 on any failure.
"""
import os
import sys

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS_DIR)

from browser import colour as c  # noqa: E402
from lib.results import Errors, Results, expect  # noqa: E402

STYLE_CSS = os.path.join(os.path.dirname(TESTS_DIR), "templates", "static", "style.css")
BLACK, WHITE = (0, 0, 0, 1.0), (255, 255, 255, 1.0)

TESTS = []


def test(name):
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


def near(got, want, tol=0.005):
    return got is not None and abs(got - want) <= tol


def same_colour(got, want, tol=0.01):
    return got is not None and len(got) == 4 and all(near(g, w, tol) for g, w in zip(got, want))


def expect_colours(cases):
    """cases: (input, expected colour or None) rows, all checked before failing."""
    errors = Errors()
    for text, want in cases:
        got = c.parse_color(text)
        ok = got is None if want is None else same_colour(got, want, 1e-9)
        errors.check(ok, "parse_color(%r) is %r, expected %r" % (text, got, want))
    errors.raise_if_any()


# ---------------------------------------------------------------------------- WCAG values

@test("contrast: black on white is 21:1, in either order; a colour with itself is 1:1")
def _():
    expect(near(c.contrast(BLACK, WHITE), 21.0), "black/white: %r" % c.contrast(BLACK, WHITE))
    expect(near(c.contrast(WHITE, BLACK), 21.0), "white/black: %r" % c.contrast(WHITE, BLACK))
    grey = (119, 119, 119, 1.0)
    expect(near(c.contrast(grey, grey), 1.0), "grey/grey: %r" % c.contrast(grey, grey))


@test("contrast: #777 on white is 4.48:1 (just under 4.5), #767676 reaches 4.54:1")
def _():
    low = c.contrast(c.parse_color("#777"), WHITE)
    expect(near(low, 4.48, 0.01), "#777 on white: %.4f" % low)
    expect(low < c.MIN_TEXT_CONTRAST, "#777 on white passes at %.4f" % low)
    high = c.contrast(c.parse_color("#767676"), WHITE)
    expect(near(high, 4.54, 0.01), "#767676 on white: %.4f" % high)


@test("luminance: white 1, black 0, the sRGB curve (linear below 0.04045), channel weights")
def _():
    expect(near(c.luminance(WHITE), 1.0, 1e-9), "white: %r" % c.luminance(WHITE))
    expect(near(c.luminance(BLACK), 0.0, 1e-9), "black: %r" % c.luminance(BLACK))
    dark = c.luminance((10, 10, 10, 1.0))
    expect(near(dark, 10 / 255 / 12.92, 1e-9), "rgb(10,10,10): %r" % dark)
    grey = c.luminance((51, 51, 51, 1.0))
    expect(near(grey, 0.0331, 0.0001), "#333: %r" % grey)
    for rgb, weight in (((255, 0, 0, 1.0), 0.2126), ((0, 255, 0, 1.0), 0.7152), ((0, 0, 255, 1.0), 0.0722)):
        expect(near(c.luminance(rgb), weight, 1e-9), "%r: %r, expected %r" % (rgb, c.luminance(rgb), weight))
    mid = c.luminance((119, 119, 119, 1.0))
    expect(near(mid, 0.1845, 0.0005), "#777: %r" % mid)


# ---------------------------------------------------------------------------- compositing

@test("over: alpha compositing onto an opaque colour")
def _():
    half_white = (255, 255, 255, 0.5)
    expect(same_colour(c.over(half_white, BLACK), (127.5, 127.5, 127.5, 1.0)),
           "50%% white over black: %r" % (c.over(half_white, BLACK),))
    quarter = (0, 0, 255, 0.25)
    expect(same_colour(c.over(quarter, (200, 100, 0, 1.0)), (150, 75, 63.75, 1.0)),
           "25%% blue over orange: %r" % (c.over(quarter, (200, 100, 0, 1.0)),))
    expect(same_colour(c.over((9, 9, 9, 0.0), WHITE), WHITE), "transparent over white is not white")
    expect(same_colour(c.over((9, 9, 9, 1.0), WHITE), (9, 9, 9, 1.0)), "opaque over white is not itself")


@test("flatten and contrast_on: translucent text is composited before measuring")
def _():
    expect(c.flatten(BLACK, WHITE) is BLACK, "an opaque colour is not kept as it is")
    got = c.contrast_on((0, 0, 0, 0.5), WHITE)
    want = c.contrast((127.5, 127.5, 127.5, 1.0), WHITE)
    expect(near(got, want, 1e-9), "50%% black on white: %r, expected %r" % (got, want))
    expect(got < 4.5, "50%% black on white reaches %.2f" % got)


# ---------------------------------------------------------------------------- parsing

@test("parse_color: 3-, 4-, 6- and 8-digit hex, any case; white, black, transparent")
def _():
    expect_colours([
        ("#fff", WHITE), ("#000", BLACK), ("#abc", (0xaa, 0xbb, 0xcc, 1.0)),
        ("#abcd", (0xaa, 0xbb, 0xcc, 0xdd / 255)), ("#0b1f4b", (11, 31, 75, 1.0)),
        ("#0B1F4B", (11, 31, 75, 1.0)), ("#0b1f4b80", (11, 31, 75, 128 / 255)),
        ("  #FfD166 ", (255, 209, 102, 1.0)),
        ("white", WHITE), ("Black", BLACK), ("transparent", (0, 0, 0, 0.0)),
    ])


@test("parse_color: rgb() and rgba() with commas, spaces, slash alpha and percentages")
def _():
    expect_colours([
        ("rgb(8, 24, 60)", (8, 24, 60, 1.0)), ("rgba(8, 24, 60, 0.62)", (8, 24, 60, 0.62)),
        ("rgba(8,24,60,.55)", (8, 24, 60, 0.55)), ("rgb(8 24 60 / 0.5)", (8, 24, 60, 0.5)),
        ("rgb(8 24 60 / 25%)", (8, 24, 60, 0.25)), ("rgb(100%, 0%, 50%)", (255, 0, 127.5, 1.0)),
        ("RGBA(255, 255, 255, 0)", (255, 255, 255, 0.0)),
    ])


@test("parse_color: invalid input is None")
def _():
    expect_colours([(text, None) for text in (
        "", "   ", "#", "#12", "#12345", "#1234567", "#123456789", "#ggg", "123456",
        "rgb(1, 2)", "rgb(1, 2, 3, 4, 5)", "rgb(a, b, c)", "rgba(1, 2, 3, x)", "rgb()",
        "hsl(0, 0%, 0%)", "red", "currentColor", "inherit", "var(--text)")])


@test("colors_in and split_top: a gradient's colours, layers split outside parentheses")
def _():
    value = ("radial-gradient(at 85% 0%, rgba(95, 168, 232, 0.22), transparent 60%), "
             "linear-gradient(165deg, #0b1f4b 0%, #3a7fc6 72%)")
    layers = c.split_top(value)
    expect(len(layers) == 2, "split_top gave %d layers: %r" % (len(layers), layers))
    expect(layers[1].startswith("linear-gradient("), "second layer: %r" % layers[1])
    cols = c.colors_in(value)
    want = [(95, 168, 232, 0.22), (0, 0, 0, 0.0), (11, 31, 75, 1.0), (58, 127, 198, 1.0)]
    expect(len(cols) == len(want) and all(same_colour(g, w) for g, w in zip(cols, want)),
           "colors_in: %r" % cols)
    expect(c.split_top(" a ,, b ") == ["a", "b"], "empty parts are kept: %r" % c.split_top(" a ,, b "))


@test("hexc: opaque as #rrggbb, translucent with @alpha")
def _():
    expect(c.hexc((11, 31, 75, 1.0)) == "#0b1f4b", c.hexc((11, 31, 75, 1.0)))
    expect(c.hexc((127.5, 0, 255, 1.0)) == "#8000ff", c.hexc((127.5, 0, 255, 1.0)))
    expect(c.hexc((8, 24, 60, 0.62)) == "#08183c@0.62", c.hexc((8, 24, 60, 0.62)))


# ---------------------------------------------------------------------------- backgrounds

@test("backdrops_from_layers: opaque stops, translucent stops over them, upper layers over lower")
def _():
    solid = c.backdrops_from_layers(["linear-gradient(#000, #fff)"])
    expect(solid == [BLACK, WHITE], "opaque stops: %r" % solid)
    mixed = c.backdrops_from_layers(["linear-gradient(#000, rgba(255, 255, 255, 0.5))"])
    expect(len(mixed) == 2 and same_colour(mixed[1], (127.5, 127.5, 127.5, 1.0)),
           "a translucent stop over the opaque one: %r" % mixed)
    upper = c.backdrops_from_layers(["radial-gradient(rgba(255, 255, 255, 0.5), transparent)", "#000"])
    expect(len(upper) == 2 and same_colour(upper[0], BLACK)
           and same_colour(upper[1], (127.5, 127.5, 127.5, 1.0)), "upper translucent layer: %r" % upper)
    expect(c.backdrops_from_layers(["none"]) == [], "no colours: %r" % c.backdrops_from_layers(["none"]))


@test("page_backdrops: from the gradient, else the body's opaque colour, else white")
def _():
    got = c.page_backdrops("linear-gradient(rgb(11, 31, 75), rgb(95, 168, 232))", "rgba(0, 0, 0, 0)")
    expect(got == [(11, 31, 75, 1.0), (95, 168, 232, 1.0)], "gradient: %r" % got)
    expect(c.page_backdrops("none", "rgb(11, 31, 75)") == [(11, 31, 75, 1.0)], "body colour")
    expect(c.page_backdrops("none", "rgba(11, 31, 75, 0.5)") == [WHITE], "translucent body colour")
    expect(c.page_backdrops("", "rgba(0, 0, 0, 0)") == [WHITE], "nothing at all")


@test("layers_over: opaque layers hide what is below, translucent ones composite, unreadable ones raise")
def _():
    backdrops = [BLACK, WHITE]
    expect(c.layers_over([], backdrops) == backdrops, "no layers")
    got = c.layers_over([{"bg": "rgba(0, 0, 0, 0)"}, {"bg": "rgba(255, 255, 255, 0.5)"}], [BLACK])
    expect(len(got) == 1 and same_colour(got[0], (127.5, 127.5, 127.5, 1.0)), "translucent: %r" % got)
    got = c.layers_over([{"bg": "rgba(255, 0, 0, 0.5)"}, {"bg": "rgb(0, 0, 255)"}], backdrops)
    expect(got == [(0, 0, 255, 1.0)], "opaque on top: %r" % got)
    got = c.layers_over([{"bg": "rgba(0, 0, 0, 0)", "image": "linear-gradient(#fff, #000)"}], [BLACK])
    expect(got == [WHITE, BLACK], "a background image: %r" % got)
    try:
        c.layers_over([{"bg": "color(srgb 1 0 0)"}], backdrops)
    except c.UnreadableColour as e:
        expect("color(srgb 1 0 0)" in str(e), "the message does not name the colour: %s" % e)
    else:
        expect(False, "an unreadable background did not raise")


# ---------------------------------------------------------------------------- computed styles

def probe_text(color, layers, opacity=1.0, where="p.lead", text="Hello"):
    return {"text": text, "where": where, "color": color, "opacity": opacity,
            "layers": [{"bg": bg, "image": "none"} for bg in layers]}


@test("text_contrast: passes readable text, names low contrast, counts opacity")
def _():
    navy = [(11, 31, 75, 1.0)]
    problems, worst = c.text_contrast([probe_text("rgb(255, 255, 255)", [])], navy)
    expect(problems == [], "white on navy: %r" % problems)
    expect(worst is not None and near(worst[0], c.contrast(WHITE, navy[0])) and worst[3] == "#ffffff",
           "worst: %r" % (worst,))
    problems, worst = c.text_contrast([probe_text("rgb(119, 119, 119)", ["rgb(255, 255, 255)"],
                                                  where="span.muted", text="faint")], navy)
    expect(len(problems) == 1 and "span.muted 'faint'" in problems[0] and "4.48:1" in problems[0],
           "#777 on a white card: %r" % problems)
    problems, _ = c.text_contrast([probe_text("rgb(255, 255, 255)", [], opacity=0.3)], navy)
    expect(len(problems) == 1, "white text at opacity 0.3 on navy: %r" % problems)
    problems, _ = c.text_contrast([probe_text("color(srgb 1 1 1)", [])], navy)
    expect(problems and "cannot read colour" in problems[0], "unreadable colour: %r" % problems)
    expect(c.text_contrast([], navy) == (["no visible text found"], None), "no texts")


@test("ring_contrast: the lowest contrast around a focus ring")
def _():
    ring = [[{"bg": "rgb(255, 255, 255)"}], [{"bg": "rgba(0, 0, 0, 0)"}]]
    yellow = (255, 209, 102, 1.0)
    got = c.ring_contrast(yellow, ring, [(11, 31, 75, 1.0)])
    want = c.contrast(yellow, WHITE)
    expect(near(got, want, 1e-9), "yellow ring beside white and navy: %r, expected %r" % (got, want))


@test("first_few: distinct problems, at most six and a count of the rest")
def _():
    expect(c.first_few(["a", "b", "a"]) == ["a", "b"], "duplicates kept")
    got = c.first_few(["p%d" % i for i in range(9)])
    expect(got == ["p0", "p1", "p2", "p3", "p4", "p5", "... 3 more"], "nine problems: %r" % got)


# ---------------------------------------------------------------------------- style.css

@test("css_rules: comments dropped, @media flattened with its context, @keyframes skipped")
def _():
    rules = c.css_rules("/* a { color: red } */ a ,\n b { color: #fff; background : #000 }"
                        "@media (min-width: 40rem) { .x { color: #111 } }"
                        "@keyframes fade { from { color: #222 } }")
    expect([r[1] for r in rules] == ["a , b", ".x"], "selectors: %r" % [r[1] for r in rules])
    expect(rules[0][2] == {"color": "#fff", "background": "#000"}, "declarations: %r" % rules[0][2])
    expect(rules[1][0] == ["@media (min-width: 40rem)"], "context: %r" % rules[1][0])


@test("resolve_vars: nesting, fallbacks, unknown names, cycles and the depth limit")
def _():
    v = {"--a": "#fff", "--b": "var(--a)", "--self": "var(--self)",
         "--ping": "var(--pong)", "--pong": "var(--ping, #123)"}
    errors = Errors()
    for value, want in (("var(--a)", "#fff"), ("var( --b )", "#fff"), ("var(--nope, #000)", "#000"),
                        ("var(--nope)", ""), ("1px solid var(--b)", "1px solid #fff"),
                        ("var(--self)", ""), ("var(--ping)", "#123")):
        got = c.resolve_vars(value, v)
        errors.check(got == want, "%r resolved to %r, expected %r" % (value, got, want))
    # Ten links of var() resolve; the eleventh is a nesting too deep, as a cycle would be.
    chain = {"--v%d" % i: "var(--v%d)" % (i + 1) for i in range(10)}
    chain["--v10"] = "#abc"
    errors.check(c.resolve_vars("var(--v1)", chain) == "#abc", "a chain of ten did not resolve")
    errors.check(c.resolve_vars("var(--v0, #000)", chain) == "", "a chain of eleven resolved")
    errors.raise_if_any()


SYNTHETIC_CSS = """
:root { --text: #ffffff; --muted: #c7dcf7; --glass: rgba(8, 24, 60, 0.62); }
body::before { background: linear-gradient(165deg, #0b1f4b 0%, #5fa8e8 100%); }
.card { background: var(--glass); }
.site-header, .site-footer { background-color: rgba(8, 24, 60, 0.55); }
body { color: var(--text); }
.lead { color: var(--muted); }
.button { color: #0b1f4b; background: #ffffff; }
@media (forced-colors: active) { .lead { color: #777777; } }
"""


@test("static_contrast: a synthetic stylesheet with good contrast passes, with notes")
def _():
    problems, notes = c.static_contrast(SYNTHETIC_CSS)
    expect(problems == [], "problems: %r" % problems)
    expect(any(n.startswith("gradient: 2 backdrop colours, lightest #5fa8e8") for n in notes), "notes: %r" % notes)
    expect(any("text/background pairs" in n for n in notes), "notes: %r" % notes)


@test("static_contrast: finds a low-contrast rule, on surfaces, through var() and on its own background")
def _():
    problems, _ = c.static_contrast(SYNTHETIC_CSS + ".hint { color: #6f7f99; }")
    expect(problems and all(p.startswith(".hint: #6f7f99 on ") for p in problems),
           "grey on the glass: %r" % problems)
    problems, _ = c.static_contrast(SYNTHETIC_CSS + ":root { --faint: #6f7f99; } .note { color: var(--faint); }")
    expect(problems and all(p.startswith(".note: #6f7f99 on ") for p in problems),
           "grey from a variable: %r" % problems)
    problems, _ = c.static_contrast(SYNTHETIC_CSS + ".badge { color: #777; background: #fff; }")
    expect(len(problems) == 1 and "(own background) is 4.48:1" in problems[0], "#777 on white: %r" % problems)
    problems, _ = c.static_contrast(SYNTHETIC_CSS + ".pill { color: #fff; background: url(x.png); }")
    expect(problems == [".pill: cannot read its background 'url(x.png)'"], "unreadable background: %r" % problems)


@test("static_contrast: a stylesheet without gradient, surfaces or text colours fails")
def _():
    problems, _ = c.static_contrast(".card { background: #000; color: #fff; }")
    expect(problems == ["no gradient found on body::before in style.css"], "no gradient: %r" % problems)
    problems, _ = c.static_contrast("body::before { background: linear-gradient(#000, #111); } p { color: #fff; }")
    expect(problems and problems[0].startswith("no glass surfaces"), "no surfaces: %r" % problems)
    problems, _ = c.static_contrast("body::before { background: linear-gradient(#000, #111); }"
                                    ".card { background: #000; }")
    expect(problems == ["no text colours found in style.css"], "no text colours: %r" % problems)


@test("static_contrast: the real templates/static/style.css passes")
def _():
    with open(STYLE_CSS, encoding="utf-8") as f:
        problems, notes = c.static_contrast(f.read())
    expect(problems == [], "problems: %r" % problems)
    expect(len(notes) == 2, "notes: %r" % notes)


def main():
    res = Results()
    for name, fn in TESTS:
        res.run(name, fn)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
