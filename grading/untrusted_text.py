"""Student-controlled text, made inert for each place the instructor sees it.

Names and ids (roster, LMS download), file names, exception messages, printed text and the
values a student's functions return all reach the instructor's terminal, spreadsheet and plots.
Each function here takes such a string and returns one that can only be read there, never act:
no escape sequence in a terminal, no formula in a spreadsheet, no mathtext in a plot, no script
or form in a page. (Pages we write ourselves escape plain strings with html.escape.)

Any of them can also hold text that no file or database can take: a lone surrogate (`\\ud800` is
a valid escape in JSON, so a notebook or a verification answer can carry one; a file name that
is not UTF-8 comes back from the OS as one). `encodable` and `encodable_data` replace each with
U+FFFD, at the doors (staging's reader, verification's answers) and at every exit we write.
"""
import re
import unicodedata

# Unicode categories a terminal acts on instead of showing: controls (escape sequences, carriage
# returns, backspaces), format characters (bidirectional overrides, zero-width characters) and
# the line and paragraph separators; and lone surrogates (from a JSON \\ud800, or from a file name's
# bytes that are not UTF-8), which no output stream can encode.
INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs"}
# A surrogate escaped in JSON (\\ud800 to \\udfff), which may stand alone: where JSON holds none,
# json.loads returns none.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# What a spreadsheet or an LMS import reads as the start of a formula (OWASP's CSV injection
# list, with the full-width forms some spreadsheets accept too).
FORMULA_STARTS = tuple("=+-@\t\r\n") + ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def encodable(text):
    """`text` as valid Unicode: a surrogate pair becomes the character it stands for, a lone
    surrogate becomes U+FFFD; so writing it as UTF-8 (a page, a CSV, a database) never fails."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def encodable_data(value):
    """JSON data (dicts, lists, strings, numbers) with every string, keys included, made
    encodable; walked without recursion, so any depth json.loads returned is fine."""
    def clean(item):
        return encodable(item) if isinstance(item, str) else item

    top = [clean(value)]
    pending = [top]
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                container[index] = clean(item)
                if isinstance(item, (list, dict)):
                    pending.append(item)
        else:
            for key in list(container):
                item = container.pop(key)
                container[clean(key)] = clean(item)
                if isinstance(item, (list, dict)):
                    pending.append(item)
    return top[0]


def _escaped(character):
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def for_terminal(text, *, keep_newlines=False):
    """`text` (any value, shown as str) with every character a terminal would act on written as a
    visible escape (ESC as \\x1b, a right-to-left override as \\u202e), so that what is printed
    cannot move the cursor, recolour, hide or reorder a line, or start a new row. Newlines stay
    only if `keep_newlines`."""
    return "".join(c if (c == "\n" and keep_newlines) or unicodedata.category(c) not in INVISIBLE
                   else _escaped(c) for c in str(text))


def for_spreadsheet(value):
    """A CSV cell that a spreadsheet shows as the text it is: a string that would start a formula
    gets a leading apostrophe; numbers, empty cells and a bare dash (an LMS's "no value") are
    unchanged."""
    if isinstance(value, str):
        value = encodable(value)
        if value.startswith(FORMULA_STARTS) and value.strip("-+ "):
            return "'" + value
    return value


def for_plot(text):
    """A plot label that matplotlib draws as plain text: a dollar sign would start mathtext, whose
    parser fails (and takes the figure with it) on text that is not valid TeX."""
    return for_terminal(text, keep_newlines=True).replace("$", r"\$")


# Markup a student's markdown may keep in a page: text formatting, headings, lists, tables, links
# and embedded images. Anything else (script, style, iframe, form, object, meta, event handlers,
# style attributes) is shown as the text it is, so an instructor sees what was tried.
PAGE_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
             "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
             "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
PAGE_ATTRIBUTES = {"*": {"class", "id", "title"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
                   "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align"}}
PAGE_PROTOCOLS = {"http", "https", "mailto", "data"}
# Where a link or an image may lead. Not to a path on the page's own server: the formgrader is
# served with the instructor's session, so an image the browser fetches by itself, or a link
# clicked, would make a request in the instructor's name (nbgrader's `/formgrader?path=` loads
# and runs the configuration of any folder). Images only embedded (data:, as markdown
# attachments are), links only to other sites, mail, or a heading of the same page.
LINK_STARTS = ("http://", "https://", "mailto:", "#")
IMAGE_STARTS = ("data:image/",)


def _page_attribute(tag, name, value):
    """bleach's test of one attribute: allowed for the tag, and a link or image only as above."""
    if name not in PAGE_ATTRIBUTES["*"] | PAGE_ATTRIBUTES.get(tag, set()):
        return False
    target = value.strip().lower()
    if (tag, name) == ("a", "href"):
        return target.startswith(LINK_STARTS)
    if (tag, name) == ("img", "src"):
        return target.startswith(IMAGE_STARTS)
    return True


def for_page(html, filters=()):
    """HTML made from a student's markdown, with only formatting markup left active (PAGE_TAGS,
    _page_attribute); every other tag is escaped, every other attribute dropped. Sanitized with
    bleach, the library nbconvert uses, but with the tags that markdown produces allowed.
    filters -- html5lib filters of the sanitized tokens, run before they are written
               (grading.plugins.page_math: formulas as MathML)"""
    import bleach

    cleaner = bleach.Cleaner(tags=PAGE_TAGS, attributes=_page_attribute, protocols=PAGE_PROTOCOLS, filters=list(filters))
    return cleaner.clean(encodable(str(html)))


def markdown_for_page(html, filters=()):
    """nbconvert's `strip_files_prefix` filter followed by for_page.

    Every template that shows a notebook (nbconvert's classic, nbgrader's feedback and formgrade)
    passes the HTML it made from a markdown cell or a grader's comment through strip_files_prefix,
    and nothing else; nbgrader_config.py puts this function in its place (through
    grading.plugins.page_math, which adds the formulas as MathML), so markdown is sanitized in each
    of those pages without copying their templates."""
    from nbconvert.filters.strings import strip_files_prefix

    return for_page(strip_files_prefix(html), filters)

