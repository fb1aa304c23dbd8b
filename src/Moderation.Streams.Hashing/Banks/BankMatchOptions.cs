namespace Moderation.Streams.Hashing.Banks;

/// <summary>What counts as a bank match (DESIGN.md: distance &lt;= 31 on hashes of quality &gt;= 50).</summary>
public sealed record BankMatchOptions
{
    /// <summary>Largest Hamming distance that still matches (upstream's PDQ threshold is 31).</summary>
    public int MaxDistance { get; init; } = 31;

    /// <summary>Queries and bank hashes under this quality never match (upstream: discard quality &lt;= 49).</summary>
    public int MinQuality { get; init; } = 50;

    /// <summary>Also match the query's 7 rotations and mirror images (on by default: a picture stored turned or
    /// mirrored, with or without an EXIF orientation saying so, must not slip past a bank).</summary>
    public bool Dihedral { get; init; } = true;

    public static BankMatchOptions Default { get; } = new();

    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxDistance, nameof(MaxDistance));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDistance, MultiIndexHashIndex.MaxSupportedDistance, nameof(MaxDistance));
        ArgumentOutOfRangeException.ThrowIfNegative(MinQuality, nameof(MinQuality));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MinQuality, 100, nameof(MinQuality));
    }
}
