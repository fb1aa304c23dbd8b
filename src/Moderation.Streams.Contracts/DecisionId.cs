using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Moderation.Streams.Contracts;

/// <summary>
/// The deterministic id every decision and DLQ record carries in header <see cref="Header"/>: the same upload
/// (content id and source topic, partition, offset) decided under the same policy and model versions always gets the
/// same id, so a consumer can drop a record redelivered after a worker crash by remembering the ids it has seen. A
/// re-screen under another policy or model is a new decision with a new id. 32 lower-case hex characters (the first
/// 128 bits of SHA-256 over the fields, each length-prefixed so no two field lists collide).
/// </summary>
public static class DecisionId
{
    public const string Header = "moderation.decision.id";

    public static string For(string contentId, string topic, int partition, long offset, string policyVersion, string modelVersion)
    {
        var text = new StringBuilder();
        foreach (var field in new[] { contentId, topic, partition.ToString(CultureInfo.InvariantCulture), offset.ToString(CultureInfo.InvariantCulture), policyVersion, modelVersion })
            text.Append(field.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(field).Append(';');
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }
}
