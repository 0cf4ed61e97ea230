# qbench report chart: gnuplot pareto.gp (run from this directory's parent)
set terminal pngcairo size 960,600 noenhanced font 'sans,10'
set output "results/demo/report/charts/pareto.png"
set title "Decode speed vs quality loss (Pareto front)"
set xlabel "Memory (MB)"
set ylabel "Decode (tokens/s)"
set grid
set key top right
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
plot "results/demo/report/charts/data/pareto.dat" index 1 with linespoints lw 2 lc rgb '#d62728' pt 6 ps 2 title "Pareto front", \
  '' index 0 using 1:2 with points pt 7 ps 1.5 lc rgb '#1f77b4' notitle, \
  '' index 0 using 1:2:3 with labels offset 0,1.2 notitle
set output
set terminal svg size 960,600 noenhanced font 'sans,10' background '#ffffff'
set output "results/demo/report/charts/pareto.svg"
set title "Decode speed vs quality loss (Pareto front)"
set xlabel "Memory (MB)"
set ylabel "Decode (tokens/s)"
set grid
set key top right
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
plot "results/demo/report/charts/data/pareto.dat" index 1 with linespoints lw 2 lc rgb '#d62728' pt 6 ps 2 title "Pareto front", \
  '' index 0 using 1:2 with points pt 7 ps 1.5 lc rgb '#1f77b4' notitle, \
  '' index 0 using 1:2:3 with labels offset 0,1.2 notitle
set output
