using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

/// <summary>The CSV layouts people export from HMA and ThreatExchange import with their provenance (issue 22, item 5);
/// the project's own rows still read as before; an unknown header is refused whole.</summary>
public sealed class BankCsvFormatsTests
{
    private const string H1 = "acecf3355e3125c8e24e2f30e0d4ec4f8482b878b3c34cdbdf063278db275992";
    private const string H2 = "8fb70f36e1c4181e82fde7d0f80138430e1e31f07b628e31ccbb687e87e1f307";
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 21, 0, 0, TimeSpan.Zero);

    private const string Bell = "\u0007";

    private static BankCsv.ReadResult<BankEntry> Read(string csv) => BankCsv.ReadAny(new StringReader(csv), "shared", "list.csv", Now);

    [Fact]
    public void An_hma_export_imports_its_pdq_rows_with_their_ids_and_skips_other_signal_types()
    {
        var result = Read($"""
            bank_name,content_id,signal_type,signal,content_uri,created_at
            NCMEC_LIST,1001,pdq,{H1},https://x/1,2024-03-01T12:00:00+00:00
            NCMEC_LIST,1002,video_md5,d41d8cd98f00b204e9800998ecf8427e,,2024-03-02T12:00:00+00:00
            NCMEC_LIST,1003,PDQ,{H2.ToUpperInvariant()},,1709380800
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(BankCsvLayout.Hma, result.Layout!.Format);
        Assert.Equal(1, result.SkippedOtherSignalTypes);
        Assert.Equal(["content_uri"], result.Layout.Ignored);
        Assert.Equal(
        [
            new BankEntry("shared", "1001", PdqHash.Parse(H1), BankCsv.MissingQuality, null, "NCMEC_LIST", new DateTimeOffset(2024, 3, 1, 12, 0, 0, TimeSpan.Zero)),
            new BankEntry("shared", "1003", PdqHash.Parse(H2), BankCsv.MissingQuality, null, "NCMEC_LIST", DateTimeOffset.FromUnixTimeSeconds(1709380800)),
        ], result.Entries);
    }

    [Fact]
    public void A_threatexchange_csv_with_a_header_imports_quality_ids_and_labels()
    {
        var result = Read($"""
            PDQ Hash,Quality,Indicator-ID,Labels,added_on
            {H1},87,2880742865368386,media_type_photo disputed,2020-07-31T18:47:52+0000
            {H2},40,2888629371260007,,
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(BankCsvLayout.ThreatExchange, result.Layout!.Format);
        Assert.Empty(result.Layout.Ignored);
        Assert.Equal(
        [
            new BankEntry("shared", "2880742865368386", PdqHash.Parse(H1), 87, "media_type_photo disputed", "list.csv", new DateTimeOffset(2020, 7, 31, 18, 47, 52, TimeSpan.Zero)),
            new BankEntry("shared", "2888629371260007", PdqHash.Parse(H2), 40, null, "list.csv", Now),
        ], result.Entries);
    }

    [Fact]
    public void A_threatexchange_header_of_hash_alone_gives_the_hash_as_id_and_full_quality()
    {
        var result = Read($"hash\n{H1}\n");
        Assert.Equal(BankCsvLayout.ThreatExchange, result.Layout!.Format);
        Assert.Equal([new BankEntry("shared", H1, PdqHash.Parse(H1), BankCsv.MissingQuality, null, "list.csv", Now)], result.Entries);
    }

    [Fact]
    public void The_headerless_threatexchange_dump_in_hmas_sample_data_imports()
    {
        // hash, indicator id, added_on, space-separated tags: as facebook/ThreatExchange's hasher-matcher-actioner sample data.
        var result = Read($"""
            {H1},2880742865368386,2020-07-31T18:47:52+0000,media_priority_pdq_samples disputed media_type_photo
            {H2},3085240538237227,2020-07-31T18:47:45-0100,media_type_photo
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(BankCsvLayout.ThreatExchange, result.Layout!.Format);
        Assert.False(result.Layout.HasHeader);
        Assert.Equal(
        [
            new BankEntry("shared", "2880742865368386", PdqHash.Parse(H1), BankCsv.MissingQuality, "media_priority_pdq_samples disputed media_type_photo", "list.csv",
                new DateTimeOffset(2020, 7, 31, 18, 47, 52, TimeSpan.Zero)),
            new BankEntry("shared", "3085240538237227", PdqHash.Parse(H2), BankCsv.MissingQuality, "media_type_photo", "list.csv",
                new DateTimeOffset(2020, 7, 31, 19, 47, 45, TimeSpan.Zero)),
        ], result.Entries);
    }

    [Fact]
    public void The_projects_own_rows_and_export_header_still_read_as_its_own()
    {
        var own = Read($"{H1},87,h-1,csam,ncmec,2026-01-02T03:04:05.678Z\n");
        Assert.Equal((BankCsvLayout.Moderation, false), (own.Layout!.Format, own.Layout.HasHeader));
        Assert.Equal([new BankEntry("shared", "h-1", PdqHash.Parse(H1), 87, "csam", "ncmec", new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero))], own.Entries);

        var exported = Read($"{BankCsv.Header}\n{H1},87,h-1,csam,ncmec,2026-01-02T03:04:05.678Z\n");
        Assert.Equal((BankCsvLayout.Moderation, true), (exported.Layout!.Format, exported.Layout.HasHeader));
        Assert.Equal(own.Entries, exported.Entries);

        // A quality over 100 in the second column is the own layout's error, not a dump, when the third is no timestamp.
        var bad = Read($"{H1},2880742865368386,h-1\n");
        Assert.Equal(BankCsvLayout.Moderation, bad.Layout!.Format);
        Assert.Contains("quality must be 0..100", Assert.Single(bad.Errors).Message);
    }

    [Theory]
    [InlineData("url,category")]
    [InlineData("not-a-hash,50")]
    [InlineData("md5,label")]
    public void An_unknown_header_is_refused_whole_with_one_clear_line(string header)
    {
        var refused = Assert.Throws<BankCsvHeaderException>(() => Read($"{header}\n{H1},90\n"));
        Assert.StartsWith("unknown header", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
        Assert.Contains("signal_type,signal", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_with_two_columns_for_one_field_is_refused()
    {
        var refused = Assert.Throws<BankCsvHeaderException>(() => Read($"hash,id,content_id\n{H1},a,b\n"));
        Assert.Contains("two id columns", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_rows_in_a_header_format_are_reported_by_line()
    {
        var result = Read($"""
            # exported 2026-12-06
            hash,quality,id,labels
            {H1},87,a,x
            zz,87,b,x
            {H2},101,c,x
            {H2},90,d,"bad{Bell}label"
            """);
        Assert.Equal(["a"], result.Entries.Select(e => e.Id));
        Assert.Equal([4, 5, 6], result.Errors.Select(e => e.Line));
        Assert.Contains("not a 64-hex-digit PDQ hash", result.Errors[0].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2020-07-31T18:47:52+0000", "2020-07-31T18:47:52+00:00")]
    [InlineData("2020-07-31T18:47:52-0130", "2020-07-31T20:17:52+00:00")]
    [InlineData("2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.678+00:00")]
    [InlineData("2026-01-02", "2026-01-02T00:00:00+00:00")]
    [InlineData("1709380800", "2024-03-02T12:00:00+00:00")]
    [InlineData("1709380800123", "2024-03-02T12:00:00.123+00:00")]
    public void Timestamps_read_in_the_forms_the_lists_write(string text, string expected)
    {
        Assert.True(BankCsvLayout.TryParseTimestamp(text, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("12.5")]
    [InlineData("99999999999999")]
    public void Non_timestamps_are_refused(string text) => Assert.False(BankCsvLayout.TryParseTimestamp(text, out _));
}
