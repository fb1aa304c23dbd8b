namespace Moderation.Streams.Hashing.Tests;

/// <summary>
/// The lines `moderation hash` prints. The verb itself is a thin loop (decode, hash, print, report errors on
/// stderr) and belongs to the Cli project; these are its formats, which match the reference's pdq-photo-hasher.
/// </summary>
public class OutputLineTests
{
    [Fact]
    public void Plain_line_is_hash_quality_and_the_path_exactly_as_given()
    {
        var result = new PdqResult(PdqHash.Parse("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"), 100);

        Assert.Equal("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22,100,bridge-1-original.jpg",
            result.FormatLine("bridge-1-original.jpg"));
        Assert.Equal("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22,100,./a dir/x,y.jpg",
            result.FormatLine("./a dir/x,y.jpg"));
    }

    [Fact]
    public void Dihedral_line_is_the_references_pdqdih_across_format()
    {
        var row = TestData.ReadCsv(TestData.VectorPath("expected", "upstream-bridge-1-dihedral.csv")).Single();

        var result = TestData.HashFileDihedral(new PdqHasher(), TestData.VectorPath("data", row["file"]));

        string[] columns = ["orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"];
        Assert.Equal(string.Join(",", columns.Select(c => row[c])) + ",100,dih/bridge-1-original.jpg",
            result.FormatLine("dih/bridge-1-original.jpg"));
    }

    [Fact]
    public void Too_small_pictures_print_the_zero_hash_with_quality_0()
    {
        var result = new PdqHasher().Hash(new byte[4 * 4 * 3], 4, 4, 3);

        Assert.Equal(new string('0', 64) + ",0,tiny.png", result.FormatLine("tiny.png"));
    }
}
