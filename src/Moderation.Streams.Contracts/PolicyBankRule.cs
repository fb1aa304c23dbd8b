using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moderation.Streams.Contracts;

/// <summary>
/// What a match in one bank does (the policy's <c>banks</c> section): written as an action (<c>"review"</c>) or as an
/// object with the bank's own limits (<c>{"action":"review","max_distance":20,"min_quality":70,"enabled":0.1}</c>).
/// </summary>
[JsonConverter(typeof(PolicyBankRuleJsonConverter))]
public sealed record PolicyBankRule
{
    /// <summary>The action of a bank of known-benign hashes: its match cancels every bank match of the upload.</summary>
    public const string Suppress = "suppress";

    /// <summary>The rule of a bank the policy does not name (and no <c>*</c>): a match takes down.</summary>
    public static PolicyBankRule Default { get; } = new();

    /// <summary><c>takedown</c>, <c>review</c> or <see cref="Suppress"/>.</summary>
    public string Action { get; init; } = Actions.Takedown;

    /// <summary>The farthest match this bank accepts (Hamming distance); null = the worker's <c>Banks:MaxDistance</c>. It
    /// can only narrow the worker's: matches are searched within that.</summary>
    public int? MaxDistance { get; init; }

    /// <summary>The least PDQ quality of the upload's hash for a match in this bank to count; null = any the worker
    /// matches (quality ≥ 50).</summary>
    public int? MinQuality { get; init; }

    /// <summary>The share of uploads (0–1) on which a match in this bank is acted on: a new bank is tried on a fraction of
    /// traffic first. Which uploads is fixed by their content id (<see cref="ActsOn"/>), so a redelivered or replayed
    /// upload gets the same answer; on the rest a match is only recorded as would-have-matched. 0 = observe only.</summary>
    public double Enabled { get; init; } = 1.0;

    public static implicit operator PolicyBankRule(string action) => new() { Action = action };

    /// <summary>Whether this bank's matches are acted on for <paramref name="contentId"/>: always at <see cref="Enabled"/>
    /// 1, never at 0, else when the content id's stable bucket (<see cref="Bucket"/>) is below <see cref="Enabled"/>.
    /// Raising the ratio only adds uploads to those acted on.</summary>
    public bool ActsOn(string contentId) => Enabled >= 1 || Bucket(contentId) < Enabled;

    /// <summary>A content id's place in [0, 1): the first 8 bytes of the SHA-256 of its UTF-8 bytes over 2^64. The same on
    /// every worker, process and version (unlike <see cref="string.GetHashCode()"/>).</summary>
    public static double Bucket(string contentId)
    {
        ArgumentNullException.ThrowIfNull(contentId);
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(contentId), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest) / 18446744073709551616.0;
    }

    /// <summary>Whether a match <paramref name="distance"/> bits away, on a hash of <paramref name="quality"/>, counts.</summary>
    public bool Accepts(int distance, int? quality) =>
        (MaxDistance is not int max || distance <= max) && (MinQuality is not int min || quality is not int q || q >= min);

    internal void Validate(List<(string, string)> errors, string field)
    {
        if (Action is not (Actions.Takedown or Actions.Review or Suppress))
            errors.Add((IsPlain ? field : $"{field}.action", $"'{Action}' must be 'takedown', 'review' or 'suppress'"));
        if (MaxDistance is < 0 or > 255) errors.Add(($"{field}.max_distance", $"max_distance {MaxDistance} must be in 0..255"));
        if (MinQuality is < 0 or > 100) errors.Add(($"{field}.min_quality", $"min_quality {MinQuality} must be in 0..100"));
        if (!(Enabled is >= 0 and <= 1)) errors.Add(($"{field}.enabled", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"enabled {Enabled} must be a share in 0..1")));
    }

    /// <summary>The rule says no more than its action (written as a string).</summary>
    internal bool IsPlain => MaxDistance is null && MinQuality is null && Enabled == 1.0;
}

/// <summary>Reads a bank rule written as a string or as an object; writes the string form when it says no more.</summary>
public sealed class PolicyBankRuleJsonConverter : JsonConverter<PolicyBankRule>
{
    public override PolicyBankRule Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new PolicyBankRule { Action = reader.GetString()! };
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("a bank rule is an action or an object {\"action\":…,\"max_distance\":…,\"min_quality\":…,\"enabled\":…}");
        string action = Actions.Takedown;
        int? maxDistance = null, minQuality = null;
        double enabled = 1.0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.TokenType != JsonTokenType.PropertyName) throw new JsonException("expected a property of a bank rule");
            var name = reader.GetString()!;
            if (!seen.Add(name)) throw new JsonException($"duplicate property '{name}' in a bank rule");
            reader.Read();
            switch (name)
            {
                case "action" when reader.TokenType == JsonTokenType.String: action = reader.GetString()!; break;
                case "max_distance" when reader.TokenType == JsonTokenType.Number: maxDistance = reader.GetInt32(); break;
                case "min_quality" when reader.TokenType == JsonTokenType.Number: minQuality = reader.GetInt32(); break;
                case "enabled" when reader.TokenType == JsonTokenType.Number: enabled = reader.GetDouble(); break;
                case "action" or "max_distance" or "min_quality" or "enabled": throw new JsonException($"'{name}' of a bank rule has the wrong type");
                default: throw new JsonException($"unknown property '{name}' in a bank rule (known: action, max_distance, min_quality, enabled)");
            }
        }
        return new PolicyBankRule { Action = action, MaxDistance = maxDistance, MinQuality = minQuality, Enabled = enabled };
    }

    public override void Write(Utf8JsonWriter writer, PolicyBankRule value, JsonSerializerOptions options)
    {
        if (value.IsPlain)
        {
            writer.WriteStringValue(value.Action);
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("action", value.Action);
        if (value.MaxDistance is int d) writer.WriteNumber("max_distance", d);
        if (value.MinQuality is int q) writer.WriteNumber("min_quality", q);
        if (value.Enabled != 1.0) writer.WriteNumber("enabled", value.Enabled);
        writer.WriteEndObject();
    }
}
