namespace Moderation.Streams.Review;

/// <summary>The console's roles: reviewers work the queue; admins also see the audit and overturn views and release others' claims.</summary>
public static class ReviewRoles
{
    public const string Reviewer = "reviewer";
    public const string Admin = "admin";

    public static bool IsRole(string? value) => value is Reviewer or Admin;
}
