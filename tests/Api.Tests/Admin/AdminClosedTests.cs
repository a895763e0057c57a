using Xunit;

namespace OrdersEs.Api.Tests.Admin;

/// <summary>Without <c>pyfly:admin:api-key</c> the admin API does not exist for callers.</summary>
public sealed class AdminClosedTests
{
    [Fact]
    public async Task Admin_answers_404_when_no_admin_key_is_configured()
    {
        var databases = new SqliteDatabases();
        try
        {
            await using var factory = new ApiFactory(await databases.CreateAsync(), adminKey: null);
            var client = factory.CreateClient();
            client.DefaultRequestHeaders.Add("X-Admin-Key", "anything");
            await (await client.GetAsync("/admin/projections")).AssertProblemAsync(404, "not-found");
            await (await client.PostAsync("/admin/projections/any_projection/rebuild", null)).AssertProblemAsync(404, "not-found");
        }
        finally
        {
            await databases.DropAllAsync();
        }
    }
}
