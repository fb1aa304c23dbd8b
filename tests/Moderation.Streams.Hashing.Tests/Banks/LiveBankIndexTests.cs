using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>The live index changed entry by entry must answer exactly as an index built afresh from the same entries,
/// through overlays, removals, replaced entries, compactions and whole-bank replacements.</summary>
public sealed class LiveBankIndexTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_780_000_000_000);

    private static BankEntry Entry(string bank, string id, PdqHash hash, int quality = 90) => new(bank, id, hash, quality, null, null, At);

    // Every query's matches, as (bank, id, distance) in the index's order.
    private static List<(string, string, int)> Answers(BankIndex index, IEnumerable<PdqHash> queries) =>
        [.. queries.SelectMany(q => index.FindAll(q, 100).Select(m => (m.Bank, m.Id, m.Distance)))];

    [Theory]
    [InlineData(1, 0)]      // no overlay allowance: every publish with an overlay over an eighth of the base compacts
    [InlineData(2, 65_536)] // never compacts by size here: overlays stay (scanned, then indexed past 4,096)
    [InlineData(3, 300)]
    public void Random_changes_answer_as_a_fresh_index_of_the_same_entries(int seed, int minOverlay)
    {
        var random = new Random(seed);
        var live = new LiveBankIndex(BankMatchOptions.Default with { Dihedral = false }, minOverlay);
        var model = new Dictionary<(string, string), BankEntry>();
        var queries = new List<PdqHash>();
        string[] banks = ["a", "b", "c"];
        int next = 0;
        for (int round = 0; round < 40; round++)
        {
            int op = random.Next(10);
            string bank = banks[random.Next(banks.Length)];
            if (op < 5)
            {
                // Adds, and replacements of held ids with a new hash or a quality under the minimum.
                var batch = new List<BankEntry>();
                for (int k = random.Next(1, round == 3 ? 6000 : 400); k > 0; k--)
                {
                    var held = model.Keys.Where(key => key.Item1 == bank).ToList();
                    string id = held.Count > 0 && random.Next(4) == 0 ? held[random.Next(held.Count)].Item2 : $"e{next++}";
                    var hash = MultiIndexHashIndexTests.RandomHash(random);
                    if (random.Next(8) == 0) queries.Add(MultiIndexHashIndexTests.FlipRandomBits(hash, random.Next(0, 40), random));
                    var entry = Entry(bank, id, hash, random.Next(10) == 0 ? 30 : 90);
                    batch.Add(entry);
                    model[(bank, id)] = entry;
                }
                live.Upsert(batch);
            }
            else if (op < 8)
            {
                var held = model.Keys.Where(key => key.Item1 == bank).Select(key => key.Item2).ToList();
                var gone = held.OrderBy(_ => random.Next()).Take(random.Next(held.Count / 2 + 1)).Append("never-held").ToList();
                Assert.Equal(gone.Count - 1, live.Remove(bank, gone));
                foreach (var id in gone) model.Remove((bank, id));
            }
            else if (op == 8)
            {
                // The bank re-read whole: half kept, a few changed, some new.
                var kept = model.Values.Where(e => e.Bank == bank && random.Next(2) == 0)
                    .Select(e => random.Next(10) == 0 ? e with { Hash = MultiIndexHashIndexTests.RandomHash(random) } : e).ToList();
                kept.AddRange(Enumerable.Range(0, random.Next(50)).Select(_ => Entry(bank, $"e{next++}", MultiIndexHashIndexTests.RandomHash(random))));
                live.Replace(bank, kept);
                foreach (var key in model.Keys.Where(key => key.Item1 == bank).ToList()) model.Remove(key);
                foreach (var e in kept) model[(bank, e.Id)] = e;
            }
            else
            {
                live.RemoveBank(bank);
                foreach (var key in model.Keys.Where(key => key.Item1 == bank).ToList()) model.Remove(key);
            }
            var snapshot = live.Publish();
            var fresh = new BankIndex(model.Values, live.Options);
            Assert.Equal(fresh.Count, snapshot.Count);
            Assert.Equal(model.Count, snapshot.TotalEntries);
            Assert.Equal(fresh.Entries.OrderBy(e => e.Bank + "\0" + e.Id, StringComparer.Ordinal), snapshot.Entries.OrderBy(e => e.Bank + "\0" + e.Id, StringComparer.Ordinal));
            var probe = queries.Concat(model.Values.Take(50).Select(e => e.Hash)).ToList();
            Assert.Equal(Answers(fresh, probe), Answers(snapshot, probe));
            foreach (var q in probe) Assert.Equal(fresh.FindBest(q, 100)?.Entry, snapshot.FindBest(q, 100)?.Entry);
        }
        if (minOverlay == 0) Assert.True(live.Compactions > 0);
        if (minOverlay == 65_536) Assert.Equal(0, live.Compactions);
    }

    [Fact]
    public void A_change_shares_the_base_and_a_published_snapshot_never_changes()
    {
        var random = new Random(7);
        var live = new LiveBankIndex();
        var entries = Enumerable.Range(0, 10_000).Select(i => Entry("bank", $"h{i}", MultiIndexHashIndexTests.RandomHash(random))).ToList();
        live.Replace("bank", entries);
        var first = live.Publish();
        Assert.Equal((10_000, 0, 0), (first.BaseCount, first.OverlayCount, first.RemovedFromBase));

        var added = Entry("bank", "new", MultiIndexHashIndexTests.RandomHash(random));
        live.Upsert([added, entries[5] with { Hash = MultiIndexHashIndexTests.RandomHash(random) }]);
        Assert.Equal(1, live.Remove("bank", ["h7"]));
        Assert.True(live.Dirty);
        var second = live.Publish();

        // No rebuild: the same base, two base entries removed (one replaced), two in the overlay.
        Assert.Equal((10_000, 2, 2, 10_000), (second.BaseCount, second.OverlayCount, second.RemovedFromBase, second.Count));
        Assert.Equal(0, live.Compactions);
        Assert.Equal("new", second.FindBest(added.Hash, 100)?.Id);
        Assert.Null(second.FindBest(entries[7].Hash, 100));
        Assert.Null(second.FindBest(entries[5].Hash, 100));
        // The first snapshot still answers as it did.
        Assert.Equal("h7", first.FindBest(entries[7].Hash, 100)?.Id);
        Assert.Equal("h5", first.FindBest(entries[5].Hash, 100)?.Id);
        Assert.Null(first.FindBest(added.Hash, 100));
        // A removal after that publish does not reach the second snapshot either (its removed set is not shared).
        live.Remove("bank", ["h9"]);
        live.Publish();
        Assert.Equal("h9", second.FindBest(entries[9].Hash, 100)?.Id);
    }

    [Fact]
    public void A_big_change_goes_to_a_middle_layer_and_later_small_ones_rebuild_only_the_small_layer()
    {
        var random = new Random(10);
        var live = new LiveBankIndex();
        var entries = Enumerable.Range(0, 10_000).Select(i => Entry("bank", $"h{i}", MultiIndexHashIndexTests.RandomHash(random))).ToList();
        live.Replace("bank", entries);
        var loaded = live.Publish();

        // More than a scan holds: merged into the middle layer (indexed), the base untouched.
        var batch = Enumerable.Range(0, 5000).Select(i => Entry("bank", $"n{i}", MultiIndexHashIndexTests.RandomHash(random))).ToList();
        live.Upsert(batch);
        var big = live.Publish();
        Assert.Same(loaded.Layers[0].Segment, big.Layers[0].Segment);
        Assert.Equal((5000, 0, 0), (big.Layers[1].Segment.Count, big.Layers[2].Segment.Count, live.Compactions));
        Assert.Equal("n4999", big.FindBest(batch[^1].Hash, 100)?.Id);

        // One more hash and one removal from the middle: the small layer and a removed bit, nothing rebuilt.
        var one = Entry("bank", "one", MultiIndexHashIndexTests.RandomHash(random));
        live.Upsert([one]);
        Assert.Equal(1, live.Remove("bank", ["n7"]));
        var small = live.Publish();
        Assert.Same(big.Layers[0].Segment, small.Layers[0].Segment);
        Assert.Same(big.Layers[1].Segment, small.Layers[1].Segment);
        Assert.Equal((1, 1, 15_000), (small.Layers[2].Segment.Count, small.Layers[1].RemovedCount, small.Count));
        Assert.Null(small.FindBest(batch[7].Hash, 100));
        Assert.Equal("n7", big.FindBest(batch[7].Hash, 100)?.Id); // the earlier snapshot is unchanged
        Assert.Equal("one", small.FindBest(one.Hash, 100)?.Id);
        Assert.Equal(10_000 + 4999 + 1, small.Entries.Count());
    }

    [Fact]
    public void An_id_handed_over_twice_by_a_scan_keeps_its_last_entry_and_counts_once()
    {
        var random = new Random(11);
        var first = Entry("bank", "twice", MultiIndexHashIndexTests.RandomHash(random));
        var last = first with { Hash = MultiIndexHashIndexTests.RandomHash(random) };
        var others = Enumerable.Range(0, 5000).Select(i => Entry("bank", $"h{i}", MultiIndexHashIndexTests.RandomHash(random))).ToList();
        var live = new LiveBankIndex();
        var loader = live.BeginLoad("bank");
        foreach (var e in others.Take(2500).Append(first).Concat(others.Skip(2500)).Append(last)) loader.Add(e);
        loader.Complete();
        var index = live.Publish();
        Assert.Equal((5001, 5001, 1), (index.Count, index.TotalEntries, index.RemovedFromBase));
        Assert.Equal(last, index.FindBest(last.Hash, 100)?.Entry);
        Assert.Null(index.FindBest(first.Hash, 100));
        Assert.Equal(last, live.Find("bank", "twice"));
        Assert.Equal(others[4999], live.Find("bank", "h4999"));
        Assert.Null(live.Find("bank", "h5000"));
        Assert.Null(live.Find("other", "h1"));
        // The same through the public constructor.
        var built = new BankIndex([first, .. others, last]);
        Assert.Equal(5001, built.Count);
        Assert.Equal(last, built.FindBest(last.Hash, 100)?.Entry);
        Assert.Null(built.FindBest(first.Hash, 100));
    }

    [Fact]
    public void A_whole_re_read_that_found_nothing_new_changes_nothing()
    {
        var random = new Random(8);
        var live = new LiveBankIndex();
        var entries = Enumerable.Range(0, 100).Select(i => Entry("bank", $"h{i}", MultiIndexHashIndexTests.RandomHash(random))).ToList();
        live.Replace("bank", entries);
        live.Publish();
        Assert.Equal(0, live.Replace("bank", [.. entries.Select(e => e with { })]));
        Assert.False(live.Dirty);
        Assert.Equal(2, live.Replace("bank", [.. entries.Skip(1).Take(98), entries[99] with { Label = "relabelled" }]));
        Assert.Equal("relabelled", live.Publish().FindBest(entries[99].Hash, 100)?.Entry.Label);
    }

    [Fact]
    public void An_entry_under_the_minimum_quality_is_held_unsearched_until_it_is_replaced_by_a_good_one()
    {
        var random = new Random(9);
        var live = new LiveBankIndex();
        var hash = MultiIndexHashIndexTests.RandomHash(random);
        live.Upsert([Entry("bank", "weak", hash, quality: 20)]);
        var snapshot = live.Publish();
        Assert.Equal((0, 1), (snapshot.Count, snapshot.TotalEntries));
        Assert.Null(snapshot.FindBest(hash, 100));
        Assert.Equal(20, live.Find("bank", "weak")?.Quality);

        live.Upsert([Entry("bank", "weak", hash, quality: 80)]);
        Assert.Equal("weak", live.Publish().FindBest(hash, 100)?.Id);
        Assert.Equal(1, live.RemoveBank("bank"));
        Assert.Equal((0, 0), (live.Publish().Count, live.Current.TotalEntries));
        Assert.Empty(live.Banks);
    }
}
