namespace Moderation.Streams.Hashing.Banks;

/// <summary>A kernel of <see cref="BruteForceSearch"/>.</summary>
public enum BruteForceKernel
{
    Scalar,
    Avx2,
    Avx512,
}
