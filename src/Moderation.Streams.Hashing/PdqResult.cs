using System.Globalization;

namespace Moderation.Streams.Hashing;

/// <summary>A PDQ hash and its quality (0..100). The reference's advice is to discard hashes with quality &lt;= 49.</summary>
public readonly record struct PdqResult(PdqHash Hash, int Quality)
{
    /// <summary>Quality at or below this is too featureless to match on (upstream's rule).</summary>
    public const int MaxDiscardedQuality = 49;

    /// <summary>The reference <c>pdq-photo-hasher</c>'s line: <c>hash,quality,path</c>, path exactly as given.</summary>
    public string FormatLine(string path) =>
        string.Create(CultureInfo.InvariantCulture, $"{Hash},{Quality},{path}");
}
