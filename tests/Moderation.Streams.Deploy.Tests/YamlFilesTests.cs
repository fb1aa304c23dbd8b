using YamlDotNet.RepresentationModel;

namespace Moderation.Streams.Deploy.Tests;

/// <summary>
/// YAML lint of everything under deploy/ and helm/: each file parses, has no duplicate keys and no tabs.
/// Chart templates are Go templates, not YAML: they are checked after rendering (ChartManifestTests).
/// </summary>
public sealed class YamlFilesTests
{
    public static TheoryData<string> YamlFiles() =>
        new(new[] { RepoPaths.Deploy, Path.Combine(RepoPaths.Root, "helm") }
            .SelectMany(d => Directory.EnumerateFiles(d, "*.*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Select(f => RepoPaths.Relative(f).Replace('\\', '/'))
            .Where(f => !f.Contains("/templates/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(YamlFiles))]
    public void Parses_as_yaml_without_duplicate_keys_or_tabs(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, file));
        Assert.DoesNotContain('\t', text);
        var stream = new YamlStream();
        stream.Load(new StringReader(text));   // throws on a syntax error or a duplicate key
        Assert.NotEmpty(stream.Documents);
        Assert.IsType<YamlMappingNode>(stream.Documents[0].RootNode);
    }

    [Fact]
    public void The_lint_covers_the_compose_stack_the_chart_values_and_the_examples()
    {
        var files = YamlFiles().Select(d => (string)d.Data).ToList();
        Assert.Contains("deploy/compose.yaml", files);
        Assert.Contains("helm/moderation-streams/values.yaml", files);
        Assert.Contains("helm/moderation-streams/Chart.yaml", files);
        Assert.Contains(files, f => f.StartsWith("helm/moderation-streams/examples/", StringComparison.Ordinal));
    }
}
