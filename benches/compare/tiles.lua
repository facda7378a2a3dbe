-- wrk script of benches/compare/tiles.sh: every request asks for the next
-- tile path of the file named by TILES_LIST (one path a line), so the
-- connections cycle through the whole list; headers given with -H (the
-- token for jointmap) go with every request.
local paths = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("TILES_LIST")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("TILES_LIST names no tile paths") end
  -- Threads start at different places of the list.
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
