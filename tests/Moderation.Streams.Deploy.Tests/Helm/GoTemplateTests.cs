namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>The offline renderer follows Go text/template and sprig where the chart relies on them.</summary>
public sealed class GoTemplateTests
{
    private static string Render(string template, string valuesYaml = "{}")
    {
        var engine = new GoTemplate();
        engine.Add("t", template);
        var root = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["Values"] = YamlValues.Load(valuesYaml),
            ["Release"] = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["Name"] = "rel" },
        };
        return engine.Execute("t", root);
    }

    [Theory]
    [InlineData("a\n  {{- \"b\" }}\nc", "ab\nc")]
    [InlineData("a {{ \"b\" -}}\n  c", "a bc")]
    [InlineData("{{/* a comment */}}x", "x")]
    [InlineData("{{- /* trimmed comment */ -}}\n x", "x")]
    public void Trim_markers_eat_whitespace_on_their_side_only(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ .Values.n | quote }}", "n: 268435456", "\"268435456\"")]
    [InlineData("{{ .Values.s | quote }}", "s: 'say \"hi\"'", "\"say \\\"hi\\\"\"")]
    [InlineData("{{ .Values.missing | default \"d\" }}", "{}", "d")]
    [InlineData("{{ .Values.zero | default 5 }}", "zero: 0", "5")]
    [InlineData("{{ printf \"%s-%s\" .Release.Name \"x\" | trunc 5 | trimSuffix \"-\" }}", "{}", "rel-x")]
    [InlineData("{{ \"abc-\" | trunc 4 | trimSuffix \"-\" }}", "{}", "abc")]
    [InlineData("{{ if contains \"rel\" .Release.Name }}yes{{ else }}no{{ end }}", "{}", "yes")]
    [InlineData("{{ if and .Values.a (not .Values.b) }}1{{ else if .Values.b }}2{{ else }}3{{ end }}", "{a: true, b: false}", "1")]
    [InlineData("{{ if and .Values.a (not .Values.b) }}1{{ else if .Values.b }}2{{ else }}3{{ end }}", "{a: true, b: true}", "2")]
    [InlineData("{{ if .Values.l }}x{{ end }}", "l: []", "")]
    [InlineData("{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", "m: {b: 2, a: 1}", "a=1;b=2;")]
    [InlineData("{{ range .Values.l }}[{{ . }}]{{ end }}", "l: [x, y]", "[x][y]")]
    [InlineData("{{ range $i, $v := .Values.l }}{{ $i }}{{ $v }}{{ end }}", "l: [x, y]", "0x1y")]
    [InlineData("{{ with .Values.m }}{{ .a }}{{ else }}none{{ end }}", "m: {}", "none")]
    [InlineData("{{ with .Values.m }}{{ .a }}-{{ $.Release.Name }}{{ end }}", "m: {a: 1}", "1-rel")]
    [InlineData("{{ $x := \"a\" }}{{ if true }}{{ $x = \"b\" }}{{ end }}{{ $x }}", "{}", "b")]
    [InlineData("k:{{ toYaml .Values.m | nindent 2 }}", "m: {b: [1, 2], a: 'yes'}", "k:\n  a: \"yes\"\n  b:\n    - 1\n    - 2")]
    [InlineData("{{ .Values.f }}", "f: 1.5", "1.5")]
    [InlineData("{{ eq .Values.mode \"keda\" }}", "mode: keda", "true")]
    [InlineData("{{ hasPrefix \"SASL_\" .Values.p }}{{ hasSuffix \"SSL\" .Values.p }}", "p: SASL_SSL", "truetrue")]
    [InlineData("{{ print \"a\" \"/b\" }}", "{}", "a/b")]
    [InlineData("{{ \"s\" | sha256sum | trunc 8 }}", "{}", "043a7187")]
    public void Pipelines_and_control_structures_behave_like_go_templates(string template, string values, string expected) =>
        Assert.Equal(expected, Render(template, values));

    [Fact]
    public void Define_and_include_share_templates_with_the_given_context()
    {
        var engine = new GoTemplate();
        engine.Add("_h.tpl", "{{- define \"x.name\" -}}{{ .Release.Name }}-{{ .Values.s }}{{- end -}}");
        engine.Add("t", "name: {{ include \"x.name\" . | upper }}");
        var root = new SortedDictionary<string, object?> { ["Values"] = YamlValues.Load("s: v"), ["Release"] = new SortedDictionary<string, object?> { ["Name"] = "r" } };
        Assert.Equal("name: R-V", engine.Execute("t", root));
    }

    [Theory]
    [InlineData("{{ .Values.a.b }}", "{}", "nil pointer")]
    [InlineData("{{ frobnicate 1 }}", "{}", "not supported")]
    [InlineData("{{ .Values.m }}", "m: {a: 1}", "toYaml")]
    [InlineData("{{ if true }}x", "{}", "no matching end")]
    [InlineData("{{ include \"nope\" . }}", "{}", "no template")]
    public void Mistakes_are_errors_that_name_the_line_not_silent_output(string template, string values, string message)
    {
        var e = Assert.Throws<TemplateException>(() => Render(template, values));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("t:1", e.Message);
    }
}
