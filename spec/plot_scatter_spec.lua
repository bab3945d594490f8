local cv = require "cnnvis"

describe("cv.plot.scatter()", function()
  it("draws a dot per finite point, with its tooltip, on axes covering every point", function()
    local p = cv.plot.scatter{series = {{name = "a", x = {0, 1, 2, 0 / 0}, y = {0, 10, 20, 5},
                                         labels = {"f1", "f2", "f3", "f4"}}},
                              xlabel = "importance", ylabel = "damage"}
    local svg = tostring(p)
    local dots = 0
    for _ in svg:gmatch("<circle") do dots = dots + 1 end
    assert.equal(3, dots)
    assert.truthy(svg:find("<title>f2</title>", 1, true))
    assert.falsy(svg:find("<title>f4</title>", 1, true))
    assert.truthy(svg:find(">importance</text>", 1, true))
    assert.truthy(svg:find(">20</text>", 1, true))
  end)

  it("names what is wrong", function()
    assert.has.error(function() cv.plot.scatter{series = {{x = {1, 2}, y = {1}}}} end,
      "plot.scatter: series '1' has 2 x values and 1 y values")
    assert.has.error(function() cv.plot.scatter{series = {}} end,
      "plot.scatter: series must be a list of {name =, x = {...}, y = {...}}")
    assert.has.error(function() cv.plot.scatter{series = {{x = {1}, y = {1}}}, colour = 1} end,
      "plot.scatter: unknown option 'colour'")
  end)
end)
