"""Formulas in a notebook page rendered when the page is written: LaTeX as MathML, no script.

nbconvert leaves the LaTeX of markdown ($…$, $$…$$, \\(…\\), \\[…\\], \\begin{…}…\\end{…}) as text
for MathJax, a script from a CDN that runs only with 'unsafe-eval'. A student opens the feedback
offline, from the LMS or under a stricter policy, and then reads raw `$\\frac{…}{…}$`. Here each
formula becomes MathML (latex2mathml) as the page is written, which the browser lays out by
itself (MathML Core), so the feedback page needs no script at all.

It runs after bleach has sanitized the markdown's HTML (grading.untrusted_text.for_page), as a
filter of bleach's token stream, and it writes only what it builds: elements and attributes of
MATHML_TAGS and MATHML_ATTRIBUTES, attribute values of a plain form, every text escaped by the
serializer. latex2mathml's own string output is not used: it puts the text of \\text{…} into
the markup unescaped. A formula latex2mathml cannot read stays the LaTeX it was, as text; so does
math inside <code>, <pre> and <kbd>, as MathJax left it, and every formula of a cell past the
MAX_FORMULAS-th (a page of many thousands costs no more than bounded time).

nbgrader_config.py names markdown_for_page in place of nbconvert's `strip_files_prefix` filter,
so the feedback pages and the formgrader's grading page both show the formulas this way.
"""
import html
import re

from bleach.html5lib_shim import Filter   # html5lib as bleach ships it (its documented way to filter)

from grading.untrusted_text import markdown_for_page as sanitized_markdown

MATHML = "http://www.w3.org/1998/Math/MathML"
# MathML Core's elements, and those latex2mathml writes beyond it (mstyle, menclose: shown as rows where unknown).
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "munder",
               "mover", "munderover", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "menclose",
               "merror", "mtable", "mtr", "mtd", "mmultiscripts", "mprescripts", "none", "semantics"}
MATHML_ATTRIBUTES = {"display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "mathcolor",
                     "mathbackground", "stretchy", "fence", "separator", "form", "accent", "accentunder",
                     "movablelimits", "largeop", "symmetric", "lspace", "rspace", "minsize", "maxsize", "width",
                     "height", "depth", "voffset", "linethickness", "notation", "columnalign", "rowalign",
                     "columnlines", "rowlines", "columnspacing", "rowspacing", "columnspan", "rowspan", "frame"}
# An attribute value: a word, a number with its unit, a colour; anything else is left out.
PLAIN_VALUE = re.compile(r"[\w#.,%+\- ]{0,64}")
# Where MathJax looked for math: these delimiters, outside <code> and <pre>. $…$ not after a backslash.
FORMULA = re.compile(r"\$\$(?P<display>.+?)\$\$|\\\[(?P<display2>.+?)\\\]"
                     r"|(?P<environment>\\begin\{(?P<name>[A-Za-z]+\*?)\}.+?\\end\{(?P=name)\})"
                     r"|(?<!\\)\$(?P<inline>[^$]+?)(?<!\\)\$|\\\((?P<inline2>.+?)\\\)", re.S)
MAX_FORMULA = 4000            # characters of LaTeX: longer stays text (latex2mathml recurses)
MAX_FORMULAS = 300            # per markdown cell or comment: the rest stays text (a page costs bounded time)
LEFT_AS_TEXT = {"code", "pre", "kbd"}
TEXT_TOKENS = {"Characters", "SpaceCharacters", "Entity"}


def mathml_tokens(latex, display):
    """html5lib tokens of the MathML for one formula, or None where latex2mathml cannot read it."""
    from latex2mathml.converter import convert_to_element

    if len(latex) > MAX_FORMULA:
        return None
    try:
        root = convert_to_element(latex, display=display)
        tokens = []
        _element_tokens(root, tokens)
        return tokens
    except Exception:   # latex2mathml's own errors, and a RecursionError on deep nesting
        return None


def _element_tokens(element, tokens):
    name = element.tag.rpartition("}")[2]
    if name not in MATHML_TAGS:
        return   # never written by latex2mathml today; left out with what it holds
    attributes = {(None, key): value for key, value in element.attrib.items()
                  if key in MATHML_ATTRIBUTES and PLAIN_VALUE.fullmatch(value)}
    tokens.append({"type": "StartTag", "name": name, "namespace": MATHML, "data": attributes})
    if element.text:   # latex2mathml writes symbols as character references: &#x003B8;
        tokens.append({"type": "Characters", "data": html.unescape(element.text)})
    for child in element:
        _element_tokens(child, tokens)
        if child.tail:
            tokens.append({"type": "Characters", "data": html.unescape(child.tail)})
    tokens.append({"type": "EndTag", "name": name, "namespace": MATHML})


class MathAsMathML(Filter):
    """A filter of bleach's sanitized token stream: formulas in text become MathML elements, at most
    MAX_FORMULAS of them per filtered text (a markdown cell, a comment)."""

    def __iter__(self):
        verbatim = 0      # how deep inside <code>, <pre> or <kbd>
        text = []
        self.left = MAX_FORMULAS
        for token in Filter.__iter__(self):
            kind = token["type"]
            if kind in TEXT_TOKENS:
                text.append(html.unescape(f"&{token['name']};") if kind == "Entity" else token["data"])
                continue
            if text:
                yield from self._text("".join(text), verbatim)
                text = []
            if token.get("name") in LEFT_AS_TEXT and kind in ("StartTag", "EndTag"):
                verbatim = max(0, verbatim + (1 if kind == "StartTag" else -1))
            yield token
        if text:
            yield from self._text("".join(text), verbatim)

    def _text(self, text, verbatim):
        """Tokens for a run of plain text: its formulas as MathML, the rest (and what latex2mathml
        cannot read) as text."""
        if verbatim or ("$" not in text and "\\" not in text):
            return [{"type": "Characters", "data": text}]
        tokens, start = [], 0
        for match in FORMULA.finditer(text):
            if self.left <= 0:
                break
            self.left -= 1
            inline = match.group("inline") or match.group("inline2")
            latex = (inline or match.group("display") or match.group("display2") or match.group("environment")).strip()
            made = mathml_tokens(latex, "inline" if inline else "block") if latex else None
            if made is None:
                continue
            if match.start() > start:
                tokens.append({"type": "Characters", "data": text[start:match.start()]})
            tokens.extend(made)
            start = match.end()
        if start < len(text):
            tokens.append({"type": "Characters", "data": text[start:]})
        return tokens


def markdown_for_page(html_text):
    """nbconvert's `strip_files_prefix` filter, then bleach (grading.untrusted_text), then the formulas
    as MathML: what every notebook page shows of markdown and of a grader's comment."""
    return sanitized_markdown(html_text, filters=(MathAsMathML,))
