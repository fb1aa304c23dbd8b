using Moderation.Streams.Hashing;

namespace Moderation.Streams.Worker.Tests;

public sealed class ExactDuplicatesTests
{
    private static ExactDuplicates.Entry EntryFor(int n) => new(new PdqResult(PdqHash.Parse(new string((char)('a' + n % 6), 64)), 50 + n % 50), null);

    [Fact]
    public void The_same_bytes_find_what_was_remembered_and_other_bytes_do_not()
    {
        var memo = new ExactDuplicates(16);
        byte[] picture = [1, 2, 3, 4, 5], other = [1, 2, 3, 4, 6];
        memo.Add(memo.Of(picture), EntryFor(3));

        Assert.True(memo.TryGet(memo.Of([.. picture]), out var found));
        Assert.Equal(EntryFor(3), found);
        Assert.False(memo.TryGet(memo.Of(other), out _));
        Assert.NotEqual(memo.Of(picture), memo.Of(other));
    }

    [Fact]
    public void Digests_are_keyed_per_instance_and_see_every_byte()
    {
        var memo = new ExactDuplicates(16);
        var picture = new byte[317 * 1024];
        new Random(7).NextBytes(picture);
        var digest = memo.Of(picture);
        Assert.Equal(digest, memo.Of([.. picture]));
        // Another instance draws another key: nobody outside can compute (or aim a collision at) this one's digests.
        Assert.NotEqual(digest, new ExactDuplicates(16).Of(picture));
        // One bit anywhere, or one byte more or less, is another digest (the length counts: a zero byte appended is not ignored).
        foreach (int at in new[] { 0, 1, 15, 16, picture.Length / 2, picture.Length - 1 })
        {
            var flipped = picture.ToArray();
            flipped[at] ^= 0x01;
            Assert.NotEqual(digest, memo.Of(flipped));
        }
        Assert.NotEqual(digest, memo.Of([.. picture, 0]));
        Assert.NotEqual(digest, memo.Of(picture.AsSpan(0, picture.Length - 1)));
        Assert.NotEqual(memo.Of([]), memo.Of([0]));
        // Distinct on many short inputs (no structure the key does not hide).
        Assert.Equal(10_000, Enumerable.Range(0, 10_000).Select(i => memo.Of(BitConverter.GetBytes(i))).Distinct().Count());
    }

    [Fact]
    public void Digests_are_the_same_on_every_thread()
    {
        var memo = new ExactDuplicates(16);
        byte[] picture = [9, 8, 7, 6, 5, 4, 3, 2, 1];
        var expected = memo.Of(picture);
        var seen = new System.Collections.Concurrent.ConcurrentBag<ExactDuplicates.Digest>();
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ => seen.Add(memo.Of(picture)));
        Assert.All(seen, d => Assert.Equal(expected, d));
    }

    [Fact]
    public void It_holds_at_most_its_capacity_keeping_the_recent_and_the_recently_used()
    {
        var memo = new ExactDuplicates(8);
        var digests = Enumerable.Range(0, 40).Select(i => memo.Of(BitConverter.GetBytes(i))).ToArray();
        for (int i = 0; i < 6; i++) memo.Add(digests[i], EntryFor(i));
        Assert.True(memo.TryGet(digests[0], out _)); // used again: moves to the young generation
        for (int i = 6; i < 10; i++) memo.Add(digests[i], EntryFor(i));

        Assert.True(memo.Count <= 8);
        Assert.True(memo.TryGet(digests[0], out var kept));
        Assert.Equal(EntryFor(0), kept);
        Assert.True(memo.TryGet(digests[9], out _));
        Assert.False(memo.TryGet(digests[1], out _)); // neither recent nor used again
        for (int i = 10; i < 40; i++) memo.Add(digests[i], EntryFor(i));
        Assert.True(memo.Count <= 8);
    }
}
