"""Colour and contrast maths for the browser tests: CSS colours, alpha compositing, WCAG
contrast ratios, backgrounds made of layers, and a check of style.css on its own.

Pure functions on plain values (a colour is (r, g, b, a) with r, g, b in 0..255 and a in
0..1), standard library only and no selenium, so that tests/browser/test_colour.py can test
them with any python3. The browser suite feeds them what Chromium computed.
"""
import re

MIN_TEXT_CONTRAST = 4.5          # WCAG 1.4.3, normal text
MIN_FOCUS_CONTRAST = 3.0         # WCAG 1.4.11, non-text contrast of the focus ring

WHITE = (255, 255, 255, 1.0)
NAMED = {"white": WHITE, "black": (0, 0, 0, 1.0), "transparent": (0, 0, 0, 0.0)}
COLOR_RE = re.compile(r"#[0-9a-fA-F]{3,8}\b|rgba?\([^()]*\)|\b(?:white|black|transparent)\b")
# How many problems a check reports; the rest are counted.
MAX_PROBLEMS = 6


class UnreadableColour(ValueError):
    """A computed background colour the maths cannot read: the check cannot vouch for the
    contrast over it."""


# ---------------------------------------------------------------------------- colours

def parse_color(text):
    """(r, g, b, a) for a hex colour, rgb()/rgba() or one of NAMED, or None."""
    s = text.strip().lower()
    if s in NAMED:
        return NAMED[s]
    m = re.fullmatch(r"#([0-9a-f]{3,8})", s)
    if m:
        h = m.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        if len(h) not in (6, 8):
            return None
        a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), a)
    m = re.fullmatch(r"rgba?\((.*)\)", s)
    if m:
        parts = [p for p in re.split(r"[\s,/]+", m.group(1).strip()) if p]
        if len(parts) not in (3, 4):
            return None
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            a = 1.0
            if len(parts) == 4:
                a = float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        except ValueError:
            return None
        return (rgb[0], rgb[1], rgb[2], a)
    return None


def colors_in(text):
    """Every colour written in a CSS value (a gradient's stops), in order."""
    return [c for c in (parse_color(m.group(0)) for m in COLOR_RE.finditer(text)) if c]


def opaque(c):
    # Computed styles round alpha, so "almost 1" is opaque.
    return c[3] >= 0.999


def over(top, bottom):
    """Composites colour top (with alpha) over an opaque colour bottom."""
    a = top[3]
    return (top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a),
            top[2] * a + bottom[2] * (1 - a), 1.0)


def flatten(top, bottom):
    """What shows where top is drawn on bottom: top itself when opaque."""
    return top if opaque(top) else over(top, bottom)


def luminance(c):
    """WCAG relative luminance of an sRGB colour, 0 (black) to 1 (white)."""
    def ch(v):
        v = v / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2])


def contrast(a, b):
    """WCAG contrast ratio of two opaque colours, 1 to 21, in either order."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def contrast_on(fg, ground):
    """Contrast of a possibly translucent colour drawn on an opaque ground."""
    return contrast(flatten(fg, ground), ground)


def hexc(c):
    """#rrggbb, with @alpha when translucent: how reports name a colour."""
    s = "#%02x%02x%02x" % tuple(int(round(v)) for v in c[:3])
    return s if opaque(c) else "%s@%.2f" % (s, c[3])


def first_few(problems):
    """The distinct problems, at most MAX_PROBLEMS of them and a count of the rest."""
    problems = list(dict.fromkeys(problems))
    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + ["... %d more" % (len(problems) - MAX_PROBLEMS)]
    return problems


# ---------------------------------------------------------------------------- backgrounds

def split_top(text, sep=","):
    """Splits at sep outside parentheses (a background's layers, a gradient's stops)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def backdrops_from_layers(layers):
    """Every colour a background made of layers (CSS order: first on top) can show.
    Translucent colours of upper layers are composited over each colour below (and the
    colour below is kept: a gradient's translucent stop covers only part of the area)."""
    candidates = []
    for layer in reversed(layers):
        cols = colors_in(layer)
        solid = [c for c in cols if opaque(c)]
        translucent = [c for c in cols if 0 < c[3] < 0.999]
        if solid and not translucent:
            candidates = solid
        elif solid:
            candidates = solid + [over(t, o) for t in translucent for o in solid]
        elif translucent and candidates:
            candidates = candidates + [over(t, c) for t in translucent for c in candidates]
    return candidates


def page_backdrops(gradient, body_bg):
    """The colours behind everything on a page: those of the gradient (a computed
    background-image), else the body's opaque background, else white."""
    cands = backdrops_from_layers(split_top(gradient)) if gradient not in ("none", "") else []
    if not cands:
        c = parse_color(body_bg)
        cands = [c] if c and c[3] > 0.999 else [WHITE]
    return cands


def layers_over(layers, backdrops):
    """Composites element backgrounds ({bg, image} computed styles, bottom first) over every
    backdrop colour: the grounds a text or ring on top of them can be drawn on."""
    grounds = list(backdrops)
    for layer in layers:
        bg = parse_color(layer["bg"])
        image = layer.get("image") or "none"
        if image != "none":
            cols = backdrops_from_layers(split_top(image))
            if cols:
                grounds = [flatten(c, g) for c in cols for g in grounds]
        if bg is None:
            raise UnreadableColour("cannot read background colour %r" % layer["bg"])
        if opaque(bg):
            grounds = [bg]
        elif bg[3] > 0:
            grounds = [over(bg, g) for g in grounds]
    return grounds


# ---------------------------------------------------------------------------- computed styles

def text_contrast(texts, backdrops):
    """Checks texts as the page's JS_TEXT_COLOURS probe reports them ({text, where, color,
    opacity, layers}), each over every ground it can be drawn on. Returns (problems, worst)
    where worst is (ratio, where, text, colour, ground) or None."""
    if not texts:
        return ["no visible text found"], None
    problems, worst = [], None
    for t in texts:
        fg = parse_color(t["color"])
        if fg is None:
            problems.append("%s: cannot read colour %r" % (t["where"], t["color"]))
            continue
        fg = (fg[0], fg[1], fg[2], fg[3] * t["opacity"])
        grounds = layers_over(t["layers"], backdrops)
        g = min(grounds, key=lambda g: contrast_on(fg, g))
        ratio = contrast_on(fg, g)
        if worst is None or ratio < worst[0]:
            worst = (ratio, t["where"], t["text"], hexc(fg), hexc(g))
        if ratio < MIN_TEXT_CONTRAST:
            problems.append("%s %r: %s on %s is %.2f:1" % (t["where"], t["text"], hexc(fg), hexc(g), ratio))
    return first_few(problems), worst


def ring_contrast(colour, ring, backdrops):
    """The lowest contrast of a focus ring's colour with what is around it: ring is, for
    each point just outside the focused element, the layers there (bottom first)."""
    return min(contrast_on(colour, g) for layers in ring for g in layers_over(layers, backdrops))


# ---------------------------------------------------------------------------- style.css

def css_rules(text):
    """[(at-rule context, selector, {property: value})], at-rules flattened; @keyframes and
    other at-rules with blocks are skipped."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules = []

    def parse(block, ctx):
        i = 0
        while True:
            j = block.find("{", i)
            if j < 0:
                return
            prelude = block[i:j].split(";")[-1].strip()
            depth, k = 1, j + 1
            while depth and k < len(block):
                depth += {"{": 1, "}": -1}.get(block[k], 0)
                k += 1
            body = block[j + 1:k - 1]
            if prelude.startswith("@"):
                if prelude.split()[0] in ("@media", "@supports", "@container", "@layer"):
                    parse(body, ctx + [prelude])
            else:
                decls = {}
                for d in body.split(";"):
                    if ":" in d:
                        p, v = d.split(":", 1)
                        decls[p.strip().lower()] = v.strip()
                rules.append((ctx, " ".join(prelude.split()), decls))
            i = k

    parse(text, [])
    return rules


def resolve_vars(value, variables, depth=0):
    """Substitutes var(--name[, fallback]) from variables; a name that is unknown, or nested
    too deep (a cycle), gives its fallback or nothing."""
    def sub(m):
        name, fallback = m.group(1), m.group(2)
        if name in variables and depth < 10:
            return resolve_vars(variables[name], variables, depth + 1)
        return fallback.strip() if fallback else ""
    return re.sub(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*))?\)", sub, value)


SURFACE_SELECTORS = (".card", ".site-header", ".site-footer")


def static_contrast(css_text):
    """Checks style.css on its own. Returns (problems, notes).

    The gradient is the body::before background; the glass surfaces are the backgrounds of
    the .card, .site-header and .site-footer rules (with and without backdrop-filter), each
    composited over every colour the gradient can show. A text colour declared without a
    background of its own must reach 4.5:1 on every surface; a text colour declared with a
    background is checked on that background (translucent ones composited over every
    surface)."""
    rules = css_rules(css_text)
    variables = {}
    for ctx, sel, decls in rules:
        if sel == ":root":
            variables.update({k: v for k, v in decls.items() if k.startswith("--")})
    problems, notes = [], []
    gradient = None
    for ctx, sel, decls in rules:
        if sel == "body::before":
            bg = resolve_vars(decls.get("background", decls.get("background-image", "")), variables)
            if "gradient" in bg:
                gradient = backdrops_from_layers(split_top(bg))
    if not gradient:
        return ["no gradient found on body::before in style.css"], notes
    lightest = max(gradient, key=luminance)
    notes.append("gradient: %d backdrop colours, lightest %s" % (len(gradient), hexc(lightest)))

    def background_of(decls):
        v = decls.get("background-color") or decls.get("background")
        if v is None:
            return None
        v = resolve_vars(v, variables)
        c = parse_color(v)
        return c if c is not None else ("other", v)

    surfaces = []
    for ctx, sel, decls in rules:
        if any(part.strip() in SURFACE_SELECTORS for part in sel.split(",")):
            bg = background_of(decls)
            if isinstance(bg, tuple) and len(bg) == 4:
                for g in gradient:
                    surfaces.append((sel, bg, flatten(bg, g)))
    if not surfaces:
        return ["no glass surfaces (.card/.site-header/.site-footer backgrounds) in style.css"], notes

    checked, worst = 0, None
    for ctx, sel, decls in rules:
        if "color" not in decls or any("forced-colors" in c for c in ctx):
            continue
        text = parse_color(resolve_vars(decls["color"], variables))
        if text is None:
            continue  # inherit, currentColor, system colours
        bg = background_of(decls)
        if isinstance(bg, tuple) and len(bg) == 2:
            problems.append("%s: cannot read its background %r" % (sel, bg[1]))
            continue
        if bg is None or bg[3] == 0:
            grounds = [(s_sel, s) for s_sel, _, s in surfaces]
        elif opaque(bg):
            grounds = [("own background", bg)]
        else:
            grounds = [("own background over " + s_sel, over(bg, s)) for s_sel, _, s in surfaces]
        for where, ground in grounds:
            ratio = contrast_on(text, ground)
            checked += 1
            if worst is None or ratio < worst[0]:
                worst = (ratio, sel, hexc(text), hexc(ground))
            if ratio < MIN_TEXT_CONTRAST:
                problems.append("%s: %s on %s (%s) is %.2f:1" % (sel, hexc(text), hexc(ground), where, ratio))
    if checked == 0:
        problems.append("no text colours found in style.css")
    elif worst:
        notes.append("style.css: %d text/background pairs, lowest %.2f:1 (%s: %s on %s)" % ((checked,) + worst))
    return first_few(problems), notes
