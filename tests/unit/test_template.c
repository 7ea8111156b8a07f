/* Template compiler and renderer: escaping, sections, layout splicing, and errors that
 * name the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"
#include "suites.h"
#include "template.h"

static const char *const names[] = {"name", "flag", "content_var", "x", NULL};
enum { NAME, FLAG, CONTENT_VAR, X };

static char err[256];
static buf out;

/* Compiles page (in layout when not NULL), renders it with values, returns the text. */
static const char *render(const char *layout, const char *page, const char *const *values) {
    tmpl *t = tmplCompile("layout.html", layout, "page.html", page, names, err, sizeof(err));
    ck_assert_msg(t != NULL, "compile failed: %s", err);
    bufReset(&out);
    ck_assert_int_eq(tmplRender(t, values, &out), 0);
    tmplFree(t);
    return bufCStr(&out);
}

/* Compiles a template that must be rejected and returns the error message. */
static const char *compileError(const char *layout, const char *page) {
    err[0] = '\0';
    tmpl *t = tmplCompile("layout.html", layout, "page.html", page, names, err, sizeof(err));
    ck_assert_msg(t == NULL, "compiled although it should not: %s", page);
    return err;
}

static void setup(void) { bufInit(&out); }
static void teardown(void) { bufFree(&out); }

START_TEST(escapes_by_default) {
    const char *v[] = {"<script>alert('x') & \"y\"</script>", NULL, NULL, NULL};
    ck_assert_str_eq(render(NULL, "<p>{{name}}</p>", v),
                     "<p>&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</p>");
}
END_TEST

START_TEST(raw_only_when_marked) {
    const char *v[] = {"<b>bold</b>", NULL, NULL, NULL};
    ck_assert_str_eq(render(NULL, "{{&name}}|{{ name }}", v), "<b>bold</b>|&lt;b&gt;bold&lt;/b&gt;");
}
END_TEST

START_TEST(escapes_in_attributes) {
    const char *v[] = {"\" onmouseover=\"x", NULL, NULL, NULL};
    ck_assert_str_eq(render(NULL, "<a title=\"{{name}}\">", v),
                     "<a title=\"&quot; onmouseover=&quot;x\">");
}
END_TEST

START_TEST(missing_value_renders_empty) {
    const char *v[] = {NULL, NULL, NULL, NULL};
    ck_assert_str_eq(render(NULL, "a{{name}}b{{&x}}c", v), "abc");
}
END_TEST

START_TEST(sections_and_inverted) {
    const char *on[] = {"N", "1", NULL, NULL};
    const char *off[] = {"N", "", NULL, NULL};
    const char *page = "[{{#flag}}yes {{name}}{{/flag}}{{^flag}}no{{/flag}}]";
    ck_assert_str_eq(render(NULL, page, on), "[yes N]");
    ck_assert_str_eq(render(NULL, page, off), "[no]");
}
END_TEST

START_TEST(nested_sections) {
    const char *v[] = {"N", "1", NULL, NULL};
    const char *page = "{{#flag}}a{{#x}}b{{/x}}c{{^x}}d{{/x}}{{/flag}}e";
    ck_assert_str_eq(render(NULL, page, v), "acde");
}
END_TEST

START_TEST(layout_splices_page) {
    const char *v[] = {"T", "1", "C", NULL};
    const char *layout = "<title>{{name}}</title>{{#flag}}<main>{{>content}}</main>{{/flag}}<footer>";
    ck_assert_str_eq(render(layout, "<p>{{content_var}}</p>", v),
                     "<title>T</title><main><p>C</p></main><footer>");
    const char *hidden[] = {"T", NULL, "C", NULL};
    ck_assert_str_eq(render(layout, "<p>{{content_var}}</p>", hidden), "<title>T</title><footer>");
}
END_TEST

START_TEST(stray_braces_are_text) {
    const char *v[] = {"N", NULL, NULL, NULL};
    ck_assert_str_eq(render(NULL, "a } b }} c { d", v), "a } b }} c { d");
}
END_TEST

START_TEST(nul_in_value_is_replaced) {
    buf b;
    bufInit(&b);
    ck_assert_int_eq(bufAppendHtml(&b, "a\0<", 3), 0);
    ck_assert_uint_eq(b.len, 1 + 3 + 4);
    ck_assert_int_eq(memcmp(b.data, "a\xEF\xBF\xBD&lt;", b.len), 0);
    bufFree(&b);
}
END_TEST

START_TEST(unknown_variable_names_file_and_line) {
    ck_assert_str_eq(compileError(NULL, "line1\nline2 {{nope}}"), "page.html:2: unknown variable 'nope'");
}
END_TEST

START_TEST(unclosed_section) {
    /* The error points at the tag that opened the section, not at the end of the file. */
    ck_assert_str_eq(compileError(NULL, "a\n{{#flag}}\nb\nc"), "page.html:2: section 'flag' is never closed");
}
END_TEST

START_TEST(mismatched_close) {
    ck_assert_str_eq(compileError(NULL, "{{#flag}}{{/x}}"),
                     "page.html:1: '{{/x}}' does not close the innermost section");
    ck_assert_str_eq(compileError(NULL, "{{/flag}}"), "page.html:1: '{{/flag}}' closes no open section");
}
END_TEST

START_TEST(unterminated_and_unsupported_tags) {
    ck_assert_str_eq(compileError(NULL, "ok\n\n{{name"), "page.html:3: unterminated tag '{{'");
    ck_assert_str_eq(compileError(NULL, "{{name\n}}"), "page.html:1: unterminated tag '{{'");
    ck_assert_str_eq(compileError(NULL, "{{{name}}}"),
                     "page.html:1: unsupported tag '{{{' (use {{name}} or {{&name}})");
    ck_assert_str_eq(compileError(NULL, "{{}}"), "page.html:1: empty tag");
    ck_assert_str_eq(compileError(NULL, "{{Na-me}}"), "page.html:1: bad name in tag (use a-z, 0-9 and _)");
}
END_TEST

START_TEST(content_tag_rules) {
    ck_assert_str_eq(compileError(NULL, "{{>content}}"),
                     "page.html:1: {{>content}} is allowed only once, in the layout");
    ck_assert_str_eq(compileError("<html>", "p"), "layout.html:1: the layout has no {{>content}} tag");
    ck_assert_str_eq(compileError("{{>content}}\n{{>content}}", "p"),
                     "layout.html:2: second {{>content}} in the layout");
    /* A section left open in the page may not be closed by the layout. */
    ck_assert_str_eq(compileError("{{>content}}{{/flag}}", "{{#flag}}"),
                     "page.html:1: section 'flag' is never closed");
    /* Errors inside the page name the page, not the layout. */
    ck_assert_str_eq(compileError("a\nb\n{{>content}}", "x\n{{bad}}"), "page.html:2: unknown variable 'bad'");
}
END_TEST

START_TEST(load_reads_files_and_reports_missing) {
    char layout[256], page[256];
    scratchWrite("layout.html", "<{{>content}}>", layout, sizeof(layout));
    scratchWrite("page.html", "{{name}}", page, sizeof(page));
    tmpl *t = tmplLoad(layout, page, names, err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    const char *v[] = {"&", NULL, NULL, NULL};
    bufReset(&out);
    tmplRender(t, v, &out);
    ck_assert_str_eq(bufCStr(&out), "<&amp;>");
    tmplFree(t);
    unlink(page);
    ck_assert_ptr_null(tmplLoad(layout, page, names, err, sizeof(err)));
    ck_assert_msg(strstr(err, "page.html: No such file") != NULL, "%s", err);
}
END_TEST

START_TEST(render_many_times_reuses_buffer) {
    tmpl *t = tmplCompile(NULL, NULL, "p", "<{{name}}>", names, err, sizeof(err));
    const char *v[] = {"x", NULL, NULL, NULL};
    for (int i = 0; i < 1000; i++) {
        bufReset(&out);
        tmplRender(t, v, &out);
    }
    ck_assert_str_eq(bufCStr(&out), "<x>");
    tmplFree(t);
}
END_TEST

Suite *templateSuite(void) {
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("render");
    tcase_add_checked_fixture(tc, setup, teardown);
    scratchAdd(tc);
    tcase_add_test(tc, escapes_by_default);
    tcase_add_test(tc, raw_only_when_marked);
    tcase_add_test(tc, escapes_in_attributes);
    tcase_add_test(tc, missing_value_renders_empty);
    tcase_add_test(tc, sections_and_inverted);
    tcase_add_test(tc, nested_sections);
    tcase_add_test(tc, layout_splices_page);
    tcase_add_test(tc, stray_braces_are_text);
    tcase_add_test(tc, nul_in_value_is_replaced);
    tcase_add_test(tc, render_many_times_reuses_buffer);
    tcase_add_test(tc, load_reads_files_and_reports_missing);
    suite_add_tcase(s, tc);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, unknown_variable_names_file_and_line);
    tcase_add_test(errors, unclosed_section);
    tcase_add_test(errors, mismatched_close);
    tcase_add_test(errors, unterminated_and_unsupported_tags);
    tcase_add_test(errors, content_tag_rules);
    suite_add_tcase(s, errors);
    return s;
}
