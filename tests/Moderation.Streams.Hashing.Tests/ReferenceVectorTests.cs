namespace Moderation.Streams.Hashing.Tests;

/// <summary>Agreement with Meta's C++ reference on its own vectors (shared/pdq-vectors).</summary>
public class ReferenceVectorTests
{
    public static TheoryData<string> ExactRgbFiles() =>
        [.. TestData.ReadCsv(TestData.VectorPath("exact-rgb", "exact-rgb.csv")).Select(r => r["file"])];

    [Theory]
    [MemberData(nameof(ExactRgbFiles))]
    public void Hash_of_the_reference_pixels_is_bit_exact(string file)
    {
        var row = TestData.ReadCsv(TestData.VectorPath("exact-rgb", "exact-rgb.csv")).Single(r => r["file"] == file);

        var result = TestData.HashFile(new PdqHasher(), TestData.VectorPath("exact-rgb", file));

        Assert.Equal(row["hash_hex"], result.Hash.ToString());
        Assert.Equal(int.Parse(row["quality"]), result.Quality);
    }
}
