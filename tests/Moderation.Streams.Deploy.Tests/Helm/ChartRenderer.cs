namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// Renders the chart like `helm template RELEASE CHART -n NAMESPACE -f OVERRIDES`: values.yaml merged with the
/// overrides, every file under templates/ parsed (their define blocks shared), each file whose name does not
/// start with "_" rendered with .Values, .Release, .Chart, .Capabilities, .Template and .Files.Get.
/// </summary>
public sealed class ChartRenderer
{
    public const string ReleaseName = "mod";
    public const string Namespace = "moderation";

    private readonly string _chartDir;
    private readonly SortedDictionary<string, object?> _chart;
    private readonly string _chartName;

    public ChartRenderer(string chartDir)
    {
        _chartDir = chartDir;
        var meta = (SortedDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(chartDir, "Chart.yaml")))!;
        _chartName = (string)meta["name"]!;
        // helm exposes Chart.yaml fields capitalised: .Chart.Name, .Chart.Version, .Chart.AppVersion ...
        _chart = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in meta) _chart[char.ToUpperInvariant(k[0]) + k[1..]] = v is long or double ? GoTemplate.ToText(v) : v;
    }

    public SortedDictionary<string, object?> DefaultValues() =>
        (SortedDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(_chartDir, "values.yaml")))!;

    public SortedDictionary<string, object?> Values(params string[] overrideYamls) =>
        overrideYamls.Aggregate(DefaultValues(), (acc, y) => YamlValues.Merge(acc, (IDictionary<string, object?>?)YamlValues.Load(y)));

    public IReadOnlyList<string> TemplateFiles() =>
        Directory.EnumerateFiles(Path.Combine(_chartDir, "templates"), "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)
                        || f.EndsWith(".tpl", StringComparison.Ordinal) || f.EndsWith(".txt", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Rendered text per template (the key is the path under the chart, e.g. templates/deployment.yaml).</summary>
    public SortedDictionary<string, string> Render(SortedDictionary<string, object?> values)
    {
        var engine = new GoTemplate();
        var files = TemplateFiles();
        foreach (var file in files) engine.Add(TemplateName(file), File.ReadAllText(file));

        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files.Where(f => !Path.GetFileName(f).StartsWith('_')))
        {
            var name = TemplateName(file);
            var root = new SortedDictionary<string, object?>(StringComparer.Ordinal)
            {
                ["Values"] = values,
                ["Chart"] = _chart,
                ["Release"] = new SortedDictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["Name"] = ReleaseName, ["Namespace"] = Namespace, ["Service"] = "Helm",
                    ["IsInstall"] = true, ["IsUpgrade"] = false, ["Revision"] = 1L,
                },
                ["Capabilities"] = new SortedDictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["KubeVersion"] = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["Version"] = "v1.31.0", ["Major"] = "1", ["Minor"] = "31" },
                },
                ["Template"] = new SortedDictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["Name"] = name, ["BasePath"] = _chartName + "/templates",
                },
                // .Files.Get "PATH": a file of the chart (outside templates/), "" when there is none, as in helm.
                ["Files"] = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["Get"] = (Func<string, object?>)ChartFile },
            };
            result[Path.GetRelativePath(_chartDir, file).Replace('\\', '/')] = engine.Execute(name, root);
        }
        return result;
    }

    private string ChartFile(string relative)
    {
        var path = Path.GetFullPath(Path.Combine(_chartDir, relative));
        return path.StartsWith(Path.GetFullPath(_chartDir) + Path.DirectorySeparatorChar, StringComparison.Ordinal) && File.Exists(path)
            ? File.ReadAllText(path) : "";
    }

        private string TemplateName(string file) => _chartName + "/" + Path.GetRelativePath(_chartDir, file).Replace('\\', '/');

    /// <summary>The YAML documents of rendered manifests (NOTES.txt excluded), split on "---" lines as helm does,
    /// empty documents dropped.</summary>
    public static List<(string Source, string Yaml)> Documents(SortedDictionary<string, string> rendered) =>
        rendered.Where(kv => !kv.Key.EndsWith(".txt", StringComparison.Ordinal))
            .SelectMany(kv => System.Text.RegularExpressions.Regex.Split(kv.Value, @"(?m)^---\s*$")
                .Where(doc => doc.Split('\n').Any(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')))
                .Select(doc => (kv.Key, doc)))
            .ToList();
}
