# qbench report chart: gnuplot tpot.gp (run from this directory's parent)
set terminal pngcairo size 960,600 noenhanced font 'sans,10'
set output "results/demo/report/charts/tpot.png"
set title "TPOT distribution (ms)"
set style fill solid 0.4 border -1
set boxwidth 0.5
set xrange [-0.6:5.6]
set ylabel "TPOT (ms)"
set grid ytics
set xtics rotate by -30
unset key
plot "results/demo/report/charts/data/tpot.dat" using 1:3:2:6:5:xtic(7) with candlesticks whiskerbars 0.5 lc rgb '#1f77b4', \
  '' using 1:4:4:4:4 with candlesticks lw 2 lc rgb '#d62728'
set output
set terminal svg size 960,600 noenhanced font 'sans,10' background '#ffffff'
set output "results/demo/report/charts/tpot.svg"
set title "TPOT distribution (ms)"
set style fill solid 0.4 border -1
set boxwidth 0.5
set xrange [-0.6:5.6]
set ylabel "TPOT (ms)"
set grid ytics
set xtics rotate by -30
unset key
plot "results/demo/report/charts/data/tpot.dat" using 1:3:2:6:5:xtic(7) with candlesticks whiskerbars 0.5 lc rgb '#1f77b4', \
  '' using 1:4:4:4:4 with candlesticks lw 2 lc rgb '#d62728'
set output
