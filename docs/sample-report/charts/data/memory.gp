# qbench report chart: gnuplot memory.gp (run from this directory's parent)
set terminal pngcairo size 960,600 noenhanced font 'sans,10'
set output "results/demo/report/charts/memory.png"
set title "Memory (MB)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set ylabel "Memory (MB)"
set yrange [0:*]
set grid ytics
set key top right
set xtics rotate by -30
plot "results/demo/report/charts/data/memory.dat" using 2:xtic(1) title "weights" lc rgb '#1f77b4', \
  '' using 3 title "KV cache" lc rgb '#ff7f0e', \
  '' using 4 title "activations" lc rgb '#2ca02c'
set output
set terminal svg size 960,600 noenhanced font 'sans,10' background '#ffffff'
set output "results/demo/report/charts/memory.svg"
set title "Memory (MB)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set ylabel "Memory (MB)"
set yrange [0:*]
set grid ytics
set key top right
set xtics rotate by -30
plot "results/demo/report/charts/data/memory.dat" using 2:xtic(1) title "weights" lc rgb '#1f77b4', \
  '' using 3 title "KV cache" lc rgb '#ff7f0e', \
  '' using 4 title "activations" lc rgb '#2ca02c'
set output
