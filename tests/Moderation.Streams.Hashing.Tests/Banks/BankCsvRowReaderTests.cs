using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>The streaming reader behind <c>bank import</c>: it reads one row per call (never ahead), so a file of
/// millions of rows is held one line at a time, and reports rows and refused rows in file order with their lines.</summary>
public sealed class BankCsvRowReaderTests
{
    private const string H1 = "acecf3355e3125c8e24e2f30e0d4ec4f8482b878b3c34cdbdf063278db275992";
    private const string H2 = "8fb70f36e1c4181e82fde7d0f80138430e1e31f07b628e31ccbb687e87e1f307";
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 21, 0, 0, TimeSpan.Zero);

    /// <summary>Counts the lines handed out, and fails if asked for more than the test allows.</summary>
    private sealed class CountingReader(IEnumerable<string> lines) : TextReader
    {
        private readonly IEnumerator<string> _lines = lines.GetEnumerator();
        public int Handed { get; private set; }

        public override string? ReadLine()
        {
            if (!_lines.MoveNext()) return null;
            Handed++;
            return _lines.Current;
        }
    }

    private static IEnumerable<string> Endless()
    {
        yield return "bank_name,content_id,signal_type,signal";
        for (long i = 0; ; i++) yield return i % 2 == 0 ? $"L,{i},pdq,{H1}" : $"L,{i},md5,d41d8cd98f00b204e9800998ecf8427e";
    }

    [Fact]
    public void Each_call_reads_only_up_to_the_next_row_so_an_endless_file_is_readable_row_by_row()
    {
        var source = new CountingReader(Endless());
        var rows = BankCsv.PdqRows(source, "list.csv", Now);
        Assert.Null(rows.Layout);
        for (int n = 0; n < 1000; n++)
        {
            Assert.True(rows.Next(out var row, out var error));
            Assert.Null(error);
            Assert.Equal($"{2 * n}", row!.Id);
            // The header, this row, and the other-signal-type row skipped before it: nothing further.
            Assert.Equal(2 * n + 2, source.Handed);
        }
        Assert.Equal(BankCsvLayout.Hma, rows.Layout!.Format);
        Assert.Equal(999, rows.SkippedOtherSignalTypes);
    }

    [Fact]
    public void Rows_and_refused_rows_come_in_file_order_with_their_line_numbers_and_make_the_same_entries_as_a_whole_read()
    {
        string csv = $"# a comment\n{H1},90,a\nzz,90,b\n\n{H2},101,c\n{H2},80\n";
        var rows = BankCsv.PdqRows(new StringReader(csv), "list.csv", Now);
        var seen = new List<string>();
        var entries = new List<BankEntry>();
        while (rows.Next(out var row, out var error))
        {
            if (row is not null)
            {
                seen.Add($"row {row.Id ?? row.Hash}");
                entries.Add(BankCsv.Entry("b", row));
            }
            else seen.Add($"line {error!.Line}: {error.Message}");
        }
        Assert.Equal(["row a", "line 3: not a 64-hex-digit PDQ hash: 'zz'", "line 5: quality must be 0..100: '101'", $"row {H2}"], seen);
        Assert.Equal(6, rows.Line);
        var whole = BankCsv.ReadAny(new StringReader(csv), "b", "list.csv", Now);
        Assert.Equal(whole.Entries, entries);
        Assert.Equal([3, 5], whole.Errors.Select(e => e.Line));
    }
}
