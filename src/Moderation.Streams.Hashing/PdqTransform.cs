namespace Moderation.Streams.Hashing;

/// <summary>
/// The eight dihedral transforms, in the reference's output order. Each names what was done to the
/// picture whose plain hash the entry approximates (see <see cref="PdqDihedral"/>).
/// </summary>
public enum PdqTransform
{
    Original = 0,
    /// <summary>Turned 90 degrees anticlockwise (the reference's <c>rot90</c>).</summary>
    Rotate90 = 1,
    Rotate180 = 2,
    /// <summary>Turned 90 degrees clockwise (the reference's <c>rot270</c>).</summary>
    Rotate270 = 3,
    /// <summary>Upside down: rows reversed, a mirror in the horizontal (x) axis.</summary>
    FlipX = 4,
    /// <summary>Left-right mirror: columns reversed, a mirror in the vertical (y) axis.</summary>
    FlipY = 5,
    /// <summary>Transposed: mirrored in the main diagonal (top-left to bottom-right).</summary>
    FlipPlus1 = 6,
    /// <summary>Anti-transposed: mirrored in the other diagonal (top-right to bottom-left).</summary>
    FlipMinus1 = 7,
}
