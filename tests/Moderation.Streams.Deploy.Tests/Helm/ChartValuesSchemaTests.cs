using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using YamlDotNet.RepresentationModel;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// values.schema.json is what helm checks values against on install, upgrade, lint and template. These tests
/// check the schema the same way (JSON Schema draft-07, all errors) against values.yaml and every example
/// override, and check that the schema and values.yaml describe exactly the same keys, each one commented.
/// </summary>
public sealed class ChartValuesSchemaTests
{
    private static readonly ChartRenderer Chart = new(RepoPaths.Chart);

    public static string SchemaPath => Path.Combine(RepoPaths.Chart, "values.schema.json");

    public static JsonSchema Schema() => JsonSchema.FromText(File.ReadAllText(SchemaPath));

    public static EvaluationResults Evaluate(object? values) =>
        Schema().Evaluate(JsonSerializer.SerializeToElement(YamlValues.ToJsonNode(values)), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static string Errors(EvaluationResults results) =>
        string.Join("\n", (results.Details ?? []).Where(d => d.Errors is not null)
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));

    public static TheoryData<string> ExampleOverrides() =>
        new(Directory.EnumerateFiles(Path.Combine(RepoPaths.Chart, "examples"), "*.yaml").Select(Path.GetFileName).Order()!);

    [Fact]
    public void The_schema_is_draft_07_and_closed_at_the_top_level()
    {
        var schema = JsonNode.Parse(File.ReadAllText(SchemaPath))!;
        Assert.Equal("http://json-schema.org/draft-07/schema#", (string?)schema["$schema"]);
        Assert.False((bool)schema["additionalProperties"]!);
    }

    [Fact]
    public void Values_yaml_satisfies_the_schema()
    {
        var results = Evaluate(Chart.DefaultValues());
        Assert.True(results.IsValid, Errors(results));
    }

    [Theory]
    [MemberData(nameof(ExampleOverrides))]
    public void Every_example_override_merged_over_values_yaml_satisfies_the_schema(string example)
    {
        var values = Chart.Values(File.ReadAllText(Path.Combine(RepoPaths.Chart, "examples", example)));
        var results = Evaluate(values);
        Assert.True(results.IsValid, Errors(results));
    }

    [Theory]
    [InlineData("replicas: 3", "unknown top-level key (a typo of replicaCount)")]
    [InlineData("kafka: { groupID: x }", "unknown nested key")]
    [InlineData("replicaCount: \"3\"", "a string where an integer belongs")]
    [InlineData("image: { flavor: rocm }", "an image flavour that is not built")]
    [InlineData("kafka: { security: { protocol: SASL } }", "a security.protocol librdkafka does not know")]
    [InlineData("kafka: { properties: { sasl.password: hunter2 } }", "a secret in plain values")]
    [InlineData("kafka: { bootstrapServers: \"kafka\" }", "a bootstrap server without a port")]
    [InlineData("kafka: { shutdownTimeout: 30s }", "a shutdown timeout that is not a .NET TimeSpan")]
    [InlineData("autoscaling: { mode: vpa }", "an autoscaling mode the chart does not render")]
    [InlineData("autoscaling: { scaleDown: { percent: 150 } }", "a scale-down step over 100 percent")]
    [InlineData("podDisruptionBudget: { maxUnavailable: half }", "a budget that is neither a count nor a percentage")]
    [InlineData("screening: { model: nsfw-resnet }", "a model the registry does not have")]
    [InlineData("resources: { requests: { cpu: lots } }", "a resource that is not a Kubernetes quantity")]
    [InlineData("telemetry: { port: 70000 }", "a port out of range")]
    [InlineData("image: { digest: latest }", "a digest that is not sha256")]
    [InlineData("kafka: { security: { protocol: SASL_SSL } }", "a SASL protocol without the Secret holding the credentials")]
    [InlineData("kafka: { security: { tls: { certKey: tls.crt } } }", "a client certificate without its key")]
    [InlineData("kafka: { security: { tls: { keyPasswordKey: key.pass } } }", "a key password without a client key")]
    [InlineData("kafka: { security: { tls: { keyPasswordFile: /pw } } }", "a file setting instead of a Secret key")]
    [InlineData("redis: { configuration: \"redis:6379,password=hunter2\" }", "a Redis password in the configuration string")]
    [InlineData("redis: { tls: { keyKey: tls.key } }", "a Redis client key without its certificate")]
    [InlineData("redis: { password: hunter2 }", "a Redis password in plain values")]
    [InlineData("review: { enabled: true }", "the review console without the Secret holding its users file")]
    [InlineData("review: { enabled: true, users: { existingSecret: logins } }\nredis: { configuration: \"\" }", "the review console without Redis")]
    [InlineData("review: { replicas: 0 }", "a review console with no replica")]
    [InlineData("review: { telemetryPort: 0 }", "a review telemetry port out of range")]
    [InlineData("review: { claimTtl: 15m }", "a claim TTL that is not a .NET TimeSpan")]
    [InlineData("review: { users: { password: hunter2 } }", "a review password in plain values")]
    [InlineData("review: { service: { type: ExternalName } }", "a review Service type the chart does not render")]
    [InlineData("review: { terminationGracePeriodSeconds: 10 }", "a grace period shorter than the console's 30 s shutdown")]
    public void The_schema_refuses_bad_values(string overrideYaml, string why)
    {
        var results = Evaluate(Chart.Values(overrideYaml));
        Assert.False(results.IsValid, $"the schema accepted {why}: {overrideYaml}");
    }

    [Fact]
    public void The_schema_and_values_yaml_describe_the_same_keys_and_every_schema_property_has_a_description()
    {
        var schema = JsonNode.Parse(File.ReadAllText(SchemaPath))!.AsObject();
        var schemaPaths = new SortedSet<string>(StringComparer.Ordinal);
        var undescribed = new List<string>();
        CollectSchemaPaths(schema, "", schemaPaths, undescribed);
        var valuePaths = new SortedSet<string>(StringComparer.Ordinal);
        CollectValuePaths(Chart.DefaultValues(), "", schema, valuePaths);

        Assert.Empty(undescribed);
        Assert.Equal(schemaPaths, valuePaths);
    }

    [Fact]
    public void Every_key_in_values_yaml_that_the_schema_describes_has_a_comment_line_above_it()
    {
        var path = Path.Combine(RepoPaths.Chart, "values.yaml");
        var lines = File.ReadAllLines(path);
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        var schema = JsonNode.Parse(File.ReadAllText(SchemaPath))!.AsObject();
        var uncommented = new List<string>();
        CheckComments((YamlMappingNode)stream.Documents[0].RootNode, schema, "", lines, uncommented);
        Assert.Empty(uncommented);
    }

    private static void CheckComments(YamlMappingNode node, JsonObject schema, string prefix, string[] lines, List<string> uncommented)
    {
        var properties = schema["properties"]?.AsObject();
        if (properties is null) return;   // a free-form value (Kubernetes object, map of labels): commented as a whole
        foreach (var (keyNode, valueNode) in node.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value!;
            var line = (int)keyNode.Start.Line - 1;
            var above = line > 0 ? lines[line - 1].TrimStart() : "";
            if (!above.StartsWith('#')) uncommented.Add($"{prefix}{key} (values.yaml:{line + 1})");
            if (valueNode is YamlMappingNode child && properties[key] is JsonObject childSchema)
                CheckComments(child, childSchema, prefix + key + ".", lines, uncommented);
        }
    }

    /// <summary>Property paths of the schema; a property with its own "properties" is a section, not a value.</summary>
    private static void CollectSchemaPaths(JsonObject schema, string prefix, SortedSet<string> paths, List<string> undescribed)
    {
        if (schema["properties"] is not JsonObject properties) return;
        foreach (var (name, node) in properties)
        {
            var child = node!.AsObject();
            var path = prefix + name;
            paths.Add(path);
            if (child["description"] is null || ((string?)child["description"])!.Length == 0) undescribed.Add(path);
            // Free-form objects (Kubernetes types) document their inner keys in the schema only where it names them.
            if (child["additionalProperties"] is JsonValue closed && !(bool)closed) CollectSchemaPaths(child, path + ".", paths, undescribed);
        }
    }

    private static void CollectValuePaths(object? values, string prefix, JsonObject schema, SortedSet<string> paths)
    {
        if (values is not IDictionary<string, object?> map) return;
        foreach (var (key, value) in map)
        {
            var path = prefix + key;
            paths.Add(path);
            var child = schema["properties"]?[key]?.AsObject();
            if (child?["additionalProperties"] is JsonValue closed && !(bool)closed) CollectValuePaths(value, path + ".", child, paths);
        }
    }
}
