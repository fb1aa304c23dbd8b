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
        memo.Add(ExactDuplicates.Of(picture), EntryFor(3));

        Assert.True(memo.TryGet(ExactDuplicates.Of([.. picture]), out var found));
        Assert.Equal(EntryFor(3), found);
        Assert.False(memo.TryGet(ExactDuplicates.Of(other), out _));
        Assert.NotEqual(ExactDuplicates.Of(picture), ExactDuplicates.Of(other));
    }

    [Fact]
    public void It_holds_at_most_its_capacity_keeping_the_recent_and_the_recently_used()
    {
        var memo = new ExactDuplicates(8);
        var digests = Enumerable.Range(0, 40).Select(i => ExactDuplicates.Of(BitConverter.GetBytes(i))).ToArray();
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
