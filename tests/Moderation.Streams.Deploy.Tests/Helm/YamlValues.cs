using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// YAML as plain values the way helm sees them: maps (sorted by key), lists, strings, long, double, bool and
/// null. Plain scalars are typed by the YAML core schema; quoted scalars stay strings.
/// </summary>
public static partial class YamlValues
{
    /// <param name="resolveMerges">Apply YAML merge keys ("&lt;&lt;: *anchor"), as docker compose does.</param>
    public static object? Load(string yaml, bool resolveMerges = false)
    {
        if (resolveMerges)
        {
            var parser = new YamlDotNet.Core.MergingParser(new YamlDotNet.Core.Parser(new StringReader(yaml)));
            var untyped = new DeserializerBuilder().Build().Deserialize(parser);
            // Re-read through the typed path so scalars are typed the same way as everywhere else.
            return Load(new SerializerBuilder().Build().Serialize(untyped));
        }
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Count == 0 ? null : FromNode(stream.Documents[0].RootNode);
    }

    public static object? FromNode(YamlNode node) => node switch
    {
        YamlMappingNode map => map.Children.Aggregate(
            new SortedDictionary<string, object?>(StringComparer.Ordinal),
            (acc, kv) => { acc.Add(((YamlScalarNode)kv.Key).Value ?? "", FromNode(kv.Value)); return acc; }),
        YamlSequenceNode seq => seq.Children.Select(FromNode).ToList(),
        YamlScalarNode scalar => TypeScalar(scalar),
        _ => throw new NotSupportedException(node.NodeType.ToString()),
    };

    private static object? TypeScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style != YamlDotNet.Core.ScalarStyle.Plain) return text;
        if (text is "" or "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return true;
        if (text is "false" or "False" or "FALSE") return false;
        if (IntPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return text;
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();

    /// <summary>Helm's value merge: maps merge key by key, anything else is replaced, null deletes the key.</summary>
    public static SortedDictionary<string, object?> Merge(SortedDictionary<string, object?> defaults, IDictionary<string, object?>? overrides)
    {
        var result = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in defaults) result[k] = v;
        foreach (var (k, v) in overrides ?? new Dictionary<string, object?>())
        {
            if (v is null) result.Remove(k);
            else if (v is IDictionary<string, object?> o && result.TryGetValue(k, out var d) && d is SortedDictionary<string, object?> dm)
                result[k] = Merge(dm, o);
            else result[k] = v;
        }
        return result;
    }

    private static readonly ISerializer Serializer = new SerializerBuilder()
        .WithQuotingNecessaryStrings(quoteYaml1_1Strings: true) // Kubernetes reads yes/no/on/off as booleans
        .WithIndentedSequences()
        .Build();

    public static string ToYaml(object? value) => value switch
    {
        null => "null\n",
        IDictionary<string, object?> { Count: 0 } => "{}\n",
        IList<object?> { Count: 0 } => "[]\n",
        _ => Serializer.Serialize(value),
    };

    public static string ToJson(object? value) => ToJsonNode(value)?.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) ?? "null";

    public static JsonNode? ToJsonNode(object? value) => value switch
    {
        null => null,
        IDictionary<string, object?> map => new JsonObject(map.Select(kv => KeyValuePair.Create(kv.Key, ToJsonNode(kv.Value)))),
        IList<object?> list => new JsonArray(list.Select(ToJsonNode).ToArray()),
        string s => JsonValue.Create(s),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        bool b => JsonValue.Create(b),
        _ => throw new NotSupportedException(value.GetType().Name),
    };

    /// <summary>Go's %v of a float64: plain digits up to 21 of them, an exponent beyond.</summary>
    public static string FormatDouble(double d) =>
        d == Math.Floor(d) && Math.Abs(d) < 1e21 ? d.ToString("0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture);
}
