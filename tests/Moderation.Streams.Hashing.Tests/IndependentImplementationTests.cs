namespace Moderation.Streams.Hashing.Tests;

/// <summary>
/// Agreement with a second PDQ implementation written separately in numpy (Independent/pdq_numpy.py, see the
/// README there) on pictures neither the reference nor its vectors contain: a small RGB picture, one that is
/// upscaled in one direction and downscaled in the other by the 512 resize, a grey one and a 64x64 one (which the
/// reference's plain hash does not blur).
/// </summary>
public class IndependentImplementationTests
{
    public static TheoryData<string> Files() =>
        [.. TestData.ReadCsv(TestData.LocalPath("Independent", "expected.csv")).Select(r => r["file"])];

    [Theory]
    [MemberData(nameof(Files))]
    public void Hashes_agree_bit_for_bit_with_the_numpy_implementation(string file)
    {
        var expected = TestData.ReadCsv(TestData.LocalPath("Independent", "expected.csv")).Single(r => r["file"] == file);
        var hasher = new PdqHasher();
        string path = TestData.LocalPath("Independent", file);

        var plain = TestData.HashFile(hasher, path);
        var dihedral = TestData.HashFileDihedral(hasher, path);

        Assert.Equal(expected["hash_hex"] + "," + expected["quality"], plain.Hash + "," + plain.Quality);
        Assert.Equal(int.Parse(expected["dihedral_quality"]), dihedral.Quality);
        string[] columns = ["orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"];
        for (int i = 0; i < columns.Length; i++)
            Assert.True(expected[columns[i]] == dihedral[(PdqTransform)i].ToString(), $"{columns[i]} of {file}");
    }
}
