using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure;

var builder = WebApplication.CreateBuilder(args);

builder.Services
    .AddEventSourcing(builder.Configuration, typeof(Order).Assembly)
    .AddAggregate(() => new Order());

var app = builder.Build();

app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));

app.Run();

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in the integration tests.</summary>
public partial class Program;
