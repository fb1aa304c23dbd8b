namespace Moderation.Streams.Hashing.Banks;

/// <summary>One sampled frame's PDQ hash (and its 8 dihedral hashes when the banks match rotations).</summary>
public sealed record FrameHash(long TimestampMs, PdqHash Hash, int Quality, PdqDihedral? Dihedral = null)
{
    /// <summary>The frame's position among the decoded frames (animations: which of them it is).</summary>
    public int Index { get; init; }
}
