using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Reads and writes policy JSON. Every error names the file and the line: syntax and type errors take the
/// line from the JSON reader, rule violations (an unknown class, review above takedown…) the line of the field
/// that breaks the rule, found by walking the document once.
/// </summary>
public static class PolicyFile
{
    /// <summary>Largest policy file read (a real one is a few KiB).</summary>
    public const long MaxFileBytes = 1024 * 1024;

    /// <summary>The bytes of a policy file: only a regular file of at most <see cref="MaxFileBytes"/> is read (a FIFO or
    /// <c>/dev/zero</c> named as the policy is refused at once).</summary>
    /// <exception cref="InvalidDataException">Not a regular file, or too large; the message names the file.</exception>
    public static byte[] ReadFile(string path)
    {
        try
        {
            return RegularFile.ReadAllBytes(path, MaxFileBytes);
        }
        catch (ModerationException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <exception cref="InvalidDataException">Malformed or invalid; the message is <c>NAME: line N: field: problem</c> per error.</exception>
    public static Policy Parse(ReadOnlySpan<byte> json, string name, IReadOnlyCollection<string>? knownModels = null)
    {
        var (policy, problems) = Check(json, knownModels);
        if (policy is not null) return policy;
        if (problems is [{ Field: null } syntax]) throw new InvalidDataException($"{name}: {syntax.Message}", syntax.Error);
        throw new InvalidDataException($"{name}: invalid policy: {string.Join("; ", problems.Select(p => p.Text))}");
    }

    /// <summary>One thing wrong with a policy file: the field (null for a syntax or type error, which has no field),
    /// the 1-based line when known, and the message.</summary>
    public sealed record Problem(string? Field, int? Line, string Message, JsonException? Error = null)
    {
        /// <summary><c>line N: field: message</c> (the parts known).</summary>
        public string Text => Field is null ? Message : Line is { } line ? $"line {line}: {Field}: {Message}" : $"{Field}: {Message}";
    }

    /// <summary>
    /// Reads a policy as <see cref="Parse"/> does and returns it with nothing wrong, or null with every problem found:
    /// one for malformed JSON or a wrong type (the reader stops there), else one per rule the policy breaks.
    /// </summary>
    public static (Policy? Policy, IReadOnlyList<Problem> Problems) Check(ReadOnlySpan<byte> json, IReadOnlyCollection<string>? knownModels = null)
    {
        Policy? policy;
        try
        {
            policy = JsonSerializer.Deserialize<Policy>(json, Policy.FileOptions);
        }
        catch (JsonException e)
        {
            return (null, [new Problem(null, (int?)e.LineNumber + 1, $"invalid policy JSON at line {e.LineNumber + 1}: {e.Message}", e)]);
        }
        if (policy is null) return (null, [new Problem(null, null, "empty policy")]);
        var errors = policy.ValidateFields(knownModels);
        if (errors.Count == 0) return (policy, []);
        var lines = FieldLines(json);
        return (null, [.. errors.Select(e => new Problem(e.Field, lines.TryGetValue(e.Field, out int line) ? line : null, e.Message))]);
    }

    /// <summary>Indented JSON that <see cref="Parse"/> reads back to an equal policy (empty tables left out).</summary>
    public static string ToJson(Policy policy) => JsonSerializer.Serialize(policy, WriteOptions) + "\n";

    /// <summary>Dotted field path (<c>surfaces.story.review.sexy</c>) → 1-based line of its name.</summary>
    public static IReadOnlyDictionary<string, int> FieldLines(ReadOnlySpan<byte> json)
    {
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var path = new List<string>();
        string? pending = null;
        int line = 1;
        long counted = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        pending = reader.GetString() ?? "";
                        line += json[(int)counted..(int)reader.TokenStartIndex].Count((byte)'\n');
                        counted = reader.TokenStartIndex;
                        lines.TryAdd(string.Join('.', path.Append(pending).Where(p => p.Length > 0)), line);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        path.Add(pending ?? "");
                        pending = null;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        if (path.Count > 0) path.RemoveAt(path.Count - 1);
                        break;
                    default:
                        if (reader.CurrentDepth <= path.Count - 1) pending = null; // a value of the pending property
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Only valid documents reach rule validation; a partial map is still better than none.
        }
        return lines;
    }

    private static readonly JsonSerializerOptions WriteOptions = new(Policy.FileOptions)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver
        {
            Modifiers =
            {
                static info =>
                {
                    foreach (var property in info.Properties)
                        property.ShouldSerialize = static (_, value) => value is not (null or System.Collections.ICollection { Count: 0 });
                },
            },
        },
    };
}
